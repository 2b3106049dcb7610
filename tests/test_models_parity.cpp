// Numerical parity with the PyTorch reference model.
//
// The fixtures in tests/data/ were written by tools/make_parity_fixture.py from the reference model
// (tools/reference_model.py, built from the specification): its weights, an input batch and targets,
// the logits, the loss, every parameter's gradient, and the losses of 10 AdamW steps on that batch.
// Here the C++ model loads the same weights and must reproduce all of it in float, with its fused ops
// and again under ReferenceMode (the plain compositions they stand for).

#include <doctest/doctest.h>

#include <cmath>
#include <optional>
#include <string>

#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/safetensors.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/optim/adamw.hpp"
#include "babygpt/reference_mode.hpp"

using namespace babygpt;

namespace {

struct Fixture {
    safetensors::Contents contents;
    GPTConfig config;
    double learning_rate = 0;
};

Fixture load_fixture(const std::string& name) {
    const std::string path = std::string(BABYGPT_TEST_DATA_DIR) + "/" + name;
    Fixture f;
    f.contents = safetensors::load(path);
    f.config = io::config_from_metadata(f.contents.metadata, path);
    f.learning_rate = std::stod(f.contents.metadata.at("learning_rate"));
    return f;
}

/// Largest violation of |a - b| <= 1e-5 (absolute), or 1e-4 relative for values above 0.1.
double worst_excess(const Tensorf& got, const Tensorf& expected) {
    REQUIRE(got.shape() == expected.shape());
    double worst = 0;
    for (std::int64_t i = 0; i < got.numel(); ++i) {
        const double a = got.data()[i], b = expected.data()[i];
        const double tolerance = std::max(1e-5, 1e-4 * std::abs(b));
        worst = std::max(worst, std::abs(a - b) - tolerance);
    }
    return worst;
}

void check_parity(const std::string& fixture_name, bool reference_mode) {
    std::optional<ReferenceModeGuard> reference;
    if (reference_mode) reference.emplace();
    const Fixture f = load_fixture(fixture_name);
    Generator gen(0);
    GPT<float> model(f.config, gen);
    io::load_state_dict(model, f.contents, fixture_name, {"input.", "output.", "grad.", "adamw."});
    model.eval();  // dropout is 0 in the fixtures; eval makes that explicit

    const IndexTensor idx = safetensors::get<std::int64_t>(f.contents, "input.idx");
    const IndexTensor targets = safetensors::get<std::int64_t>(f.contents, "input.targets");
    const GPTOutput<float> out = model.forward(idx, targets);

    SUBCASE("logits and loss") {
        CHECK(worst_excess(out.logits, safetensors::get<float>(f.contents, "output.logits")) <= 0.0);
        CHECK(out.loss.item() == doctest::Approx(safetensors::get<float>(f.contents, "output.loss").item()).epsilon(1e-5));
    }
    SUBCASE("every parameter's gradient") {
        out.loss.backward();
        int checked = 0;
        for (const auto& [name, p] : model.named_parameters()) {
            const auto& name_value = name;  // C++17 lambdas (inside INFO) cannot capture a structured binding
            INFO("gradient of " << name_value);
            REQUIRE(p.grad().defined());
            CHECK(worst_excess(p.grad(), safetensors::get<float>(f.contents, "grad." + name)) <= 0.0);
            ++checked;
        }
        CHECK(checked == static_cast<int>(model.named_parameters().size()));
    }
    SUBCASE("10 AdamW steps") {
        const Tensorf expected = safetensors::get<float>(f.contents, "adamw.losses");
        optim::AdamWOptions options;
        options.lr = f.learning_rate;
        optim::AdamW<float> optimizer(model.parameters(), options);
        model.train();
        for (std::int64_t k = 0; k < expected.numel(); ++k) {
            const Tensorf loss = model.forward(idx, targets).loss;
            INFO("AdamW step " << k);
            CHECK(std::abs(loss.item() - expected.data()[k]) < 1e-4);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
        }
    }
}

}  // namespace

TEST_CASE("parity with the PyTorch reference: vocab 11, block 8, n_embed 16, 4 heads, 2 layers") {
    check_parity("parity_small.safetensors", false);
}

TEST_CASE("parity with the PyTorch reference: odd vocab 13, block 5, n_embed 12, 3 heads, 1 layer") {
    check_parity("parity_odd.safetensors", false);
}

TEST_CASE("parity with the PyTorch reference under ReferenceMode: vocab 11, block 8, n_embed 16, 4 heads, 2 layers") {
    check_parity("parity_small.safetensors", true);
}

TEST_CASE("parity with the PyTorch reference under ReferenceMode: odd vocab 13, block 5, n_embed 12, 3 heads, 1 layer") {
    check_parity("parity_odd.safetensors", true);
}

// The LayerNorm placements other than the reference's (GPTConfig::norm), against the same PyTorch model
// with its blocks changed alike (tools/reference_model.py).
TEST_CASE("parity with the PyTorch reference, LayerNorm after each residual addition (norm post)") {
    check_parity("parity_post.safetensors", false);
}

TEST_CASE("parity with the PyTorch reference under ReferenceMode, norm post") {
    check_parity("parity_post.safetensors", true);
}

TEST_CASE("parity with the PyTorch reference, no LayerNorm (norm none, the tutorial's step 8)") {
    check_parity("parity_none.safetensors", false);
}

TEST_CASE("parity with the PyTorch reference under ReferenceMode, norm none") {
    check_parity("parity_none.safetensors", true);
}
