// Tests for GPTConfig::norm, the LayerNorm placement (nn/block.hpp): the state_dict of each placement
// (none: exactly the tutorial's step 8, no LayerNorm at all; post: no ln_final), the parameter count the
// configuration predicts, gradients by finite differences, the checkpoint metadata and tensor checks.
// The values against PyTorch are in test_models_parity.cpp; generation in test_models_kv_cache_modules.cpp.

#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"

#include "gpt_helpers.hpp"
#include "helpers.hpp"

using namespace babygpt;
using babygpt_test::tiny_config;

namespace {

/// The model's parameter names, without those `drop` picks.
template <typename Drop>
std::vector<std::string> norm_placement_names(const GPT<float>& model, Drop drop) {
    std::vector<std::string> names;
    for (const auto& named : model.named_parameters())
        if (!drop(named.first)) names.push_back(named.first);
    return names;
}

bool norm_placement_keep_all(const std::string&) { return false; }

bool norm_placement_is_layer_norm(const std::string& name) {
    return name.find("ln1.") != std::string::npos || name.find("ln2.") != std::string::npos ||
           name.rfind("ln_final.", 0) == 0;
}

}  // namespace

TEST_CASE("norm none: the state_dict is the reference's without any LayerNorm (the tutorial's step 8)") {
    Generator g1(4), g2(4);
    const GPT<float> pre(tiny_config(0.0, NormPlacement::pre), g1);
    const GPT<float> none(tiny_config(0.0, NormPlacement::none), g2);
    CHECK(norm_placement_names(none, norm_placement_keep_all) ==
          norm_placement_names(pre, norm_placement_is_layer_norm));
    CHECK(none.ln_final == nullptr);
    CHECK(none.blocks[0]->ln1 == nullptr);
    // LayerNorm draws nothing at initialisation: every shared weight is the same as the reference's.
    const auto a = pre.named_parameters(), b = none.named_parameters();
    for (const auto& shared : b) {
        const std::string& name = shared.first;  // not a structured binding: the lambda captures it
        const auto it = std::find_if(a.begin(), a.end(), [&](const auto& named) { return named.first == name; });
        REQUIRE(it != a.end());
        CHECK(it->second.to_vector() == shared.second.to_vector());
    }
}

TEST_CASE("norm post: ln1 and ln2 in every block, no ln_final") {
    Generator g1(5), g2(5);
    const GPT<float> pre(tiny_config(0.0, NormPlacement::pre), g1);
    const GPT<float> post(tiny_config(0.0, NormPlacement::post), g2);
    const auto is_final_norm = [](const std::string& name) { return name.rfind("ln_final.", 0) == 0; };
    CHECK(norm_placement_names(post, norm_placement_keep_all) == norm_placement_names(pre, is_final_norm));
    CHECK(post.ln_final == nullptr);
    CHECK(post.blocks[1]->ln2 != nullptr);
}

TEST_CASE("GPTConfig::state_elements counts every parameter and buffer, for every placement") {
    for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post, NormPlacement::none}) {
        const std::string placement = norm_placement_name(norm);
        CAPTURE(placement);
        Generator gen(6);
        const GPTConfig config = tiny_config(0.0, norm);
        const GPT<float> model(config, gen);
        std::int64_t buffers = 0;
        for (const auto& named : model.named_buffers()) buffers += named.second.numel();
        CHECK(config.state_elements() == model.parameter_count() + buffers);
    }
}

TEST_CASE("norm post and none: gradcheck of the loss with respect to every parameter (double)") {
    for (const NormPlacement norm : {NormPlacement::post, NormPlacement::none}) {
        const std::string placement = norm_placement_name(norm);
        CAPTURE(placement);
        Generator gen(12);
        GPT<double> model(tiny_config(0.0, norm), gen);
        const IndexTensor idx = IndexTensor::from_data({2, 4}, {1, 5, 5, 0, 6, 2, 3, 2});
        const IndexTensor targets = IndexTensor::from_data({2, 4}, {5, 5, 0, 4, 2, 3, 2, 1});
        const GradcheckResult result = gradcheck(
            [&](const std::vector<Tensord>&) { return model.forward(idx, targets).loss; }, model.parameters());
        CHECK_MESSAGE(result.ok, result.message);
        // The fused loss (GPT::loss) agrees with forward().loss.
        CHECK(std::abs(model.loss(idx, targets).item() - model.forward(idx, targets).loss.item()) < 1e-12);
    }
}

TEST_CASE("checkpoint metadata: norm is written, read back, pre when absent, and refused when unknown") {
    for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post, NormPlacement::none}) {
        const auto metadata = io::config_metadata(tiny_config(0.0, norm));
        CHECK(metadata.at("norm") == norm_placement_name(norm));
        CHECK(io::config_from_metadata(metadata, "m.safetensors").norm == norm);
    }
    auto metadata = io::config_metadata(tiny_config(0.0, NormPlacement::post));
    metadata.erase("norm");  // a file written before the option existed
    CHECK(io::config_from_metadata(metadata, "old.safetensors").norm == NormPlacement::pre);
    metadata["norm"] = "sideways";
    CHECK_THROWS_WITH_AS(io::config_from_metadata(metadata, "m.safetensors"),
                         "m.safetensors: metadata 'norm': unknown LayerNorm placement 'sideways'; choose pre, post "
                         "or none",
                         Error);
}

TEST_CASE("checkpoint tensors: a norm none file with LayerNorm tensors, or a pre file without, is refused") {
    Generator gen(7);
    const GPT<float> pre(tiny_config(0.0, NormPlacement::pre), gen);
    const GPT<float> none(tiny_config(0.0, NormPlacement::none), gen);
    safetensors::Contents pre_file = io::state_dict(pre), none_file = io::state_dict(none);
    none_file.metadata = io::config_metadata(none.config);
    pre_file.metadata = io::config_metadata(pre.config);
    CHECK(io::config_from_checkpoint(none_file, "none.safetensors").norm == NormPlacement::none);
    CHECK(io::config_from_checkpoint(pre_file, "pre.safetensors").norm == NormPlacement::pre);

    safetensors::Contents mislabelled = pre_file;  // pre's tensors, claiming none: the ln tensors are extra
    mislabelled.metadata = none_file.metadata;
    const std::string extra = babygpt_test::error_of([&] { io::config_from_checkpoint(mislabelled, "x.safetensors"); });
    CHECK(babygpt_test::contains(extra, "unexpected tensors"));
    CHECK(babygpt_test::contains(extra, "ln1.weight"));
    CHECK(babygpt_test::contains(extra, "norm none"));

    mislabelled = none_file;  // none's tensors, claiming pre: the ln tensors are missing
    mislabelled.metadata = pre_file.metadata;
    const std::string missing = babygpt_test::error_of([&] { io::config_from_checkpoint(mislabelled, "y.safetensors"); });
    CHECK(babygpt_test::contains(missing, "tensors missing"));
    CHECK(babygpt_test::contains(missing, "blocks.0.ln1.weight"));
}

TEST_CASE("parse_norm_placement: the three names, and an error naming the option otherwise") {
    CHECK(parse_norm_placement("pre") == NormPlacement::pre);
    CHECK(parse_norm_placement("post") == NormPlacement::post);
    CHECK(parse_norm_placement("none") == NormPlacement::none);
    CHECK_THROWS_WITH_AS(parse_norm_placement("Pre", "--norm"),
                         "--norm: unknown LayerNorm placement 'Pre'; choose pre, post or none", Error);
}
