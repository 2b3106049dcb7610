#include <doctest/doctest.h>

#include <cstdio>
#include <string>

#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

GPTConfig state_dict_config() {
    GPTConfig c;
    c.vocab_size = 7;
    c.block_size = 4;
    c.n_embed = 8;
    c.n_head = 2;
    c.n_layer = 1;
    return c;
}

}  // namespace

TEST_CASE("io::state_dict: holds every parameter and buffer under its reference name") {
    Generator gen(1);
    GPT<float> model(state_dict_config(), gen);
    const safetensors::Contents sd = io::state_dict(model);
    CHECK(sd.tensors.size() == model.named_parameters().size() + model.named_buffers().size());
    CHECK(sd.tensors.count("postion_embedding_table.weight") == 1);
    CHECK(sd.tensors.count("blocks.0.sa.heads.1.tril") == 1);
    CHECK(sd.tensors.at("lm_head.weight").shape == Shape{7, 8});
    CHECK(sd.tensors.at("lm_head.weight").dtype == safetensors::DType::F32);
}

TEST_CASE("io::load_state_dict: a saved model loads into another with identical outputs") {
    Generator gen_a(1), gen_b(2);
    GPT<float> a(state_dict_config(), gen_a), b(state_dict_config(), gen_b);
    const std::string path = "babygpt_test_state_dict.safetensors";
    io::save_state_dict(path, a, io::config_metadata(a.config));
    const safetensors::Contents file = safetensors::load(path);
    std::remove(path.c_str());
    io::load_state_dict(b, file, path);
    const IndexTensor idx = IndexTensor::from_data({1, 4}, {0, 3, 6, 2});
    CHECK(a.forward(idx).logits.to_vector() == b.forward(idx).logits.to_vector());
    const GPTConfig back = io::config_from_metadata(file.metadata, path);
    CHECK(back.vocab_size == 7);
    CHECK(back.n_head == 2);
}

TEST_CASE("io::load_state_dict: double weights load into a float model and back") {
    Generator gen_a(3), gen_b(4);
    GPT<double> a(state_dict_config(), gen_a);
    GPT<float> b(state_dict_config(), gen_b);
    io::load_state_dict(b, io::state_dict(a), "double model");
    CHECK(b.lm_head.weight.data()[5] == static_cast<float>(a.lm_head.weight.data()[5]));
}

TEST_CASE("io::load_state_dict: a missing tensor is an error naming it") {
    Generator gen(1);
    GPT<float> model(state_dict_config(), gen);
    safetensors::Contents sd = io::state_dict(model);
    sd.tensors.erase("ln_final.bias");
    sd.tensors.erase("blocks.0.sa.heads.0.tril");
    const std::string message = error_of([&] { io::load_state_dict(model, sd, "f.safetensors"); });
    CHECK(message.find("f.safetensors: tensors missing for the model") != std::string::npos);
    CHECK(message.find("ln_final.bias") != std::string::npos);
    CHECK(message.find("blocks.0.sa.heads.0.tril") != std::string::npos);
}

TEST_CASE("io::load_state_dict: an unexpected tensor is an error naming it, unless its prefix is ignored") {
    Generator gen(1);
    GPT<float> model(state_dict_config(), gen);
    safetensors::Contents sd = io::state_dict(model);
    sd.tensors["blocks.1.ln1.weight"] = safetensors::from_tensor(Tensorf::ones({8}));
    const std::string message = error_of([&] { io::load_state_dict(model, sd, "f.safetensors"); });
    CHECK(message.find("unexpected tensors (not in the model): blocks.1.ln1.weight") != std::string::npos);
    CHECK_NOTHROW(io::load_state_dict(model, sd, "f.safetensors", {"blocks.1."}));
}

TEST_CASE("io::load_state_dict: a shape mismatch names the tensor and both shapes, and copies nothing") {
    Generator gen(1), other_gen(9);
    GPT<float> model(state_dict_config(), gen);
    GPTConfig bigger = state_dict_config();
    bigger.vocab_size = 9;  // a checkpoint from another vocabulary
    GPT<float> other(bigger, other_gen);
    const float before = model.ln_final->weight.data()[0];
    const std::string message = error_of([&] { io::load_state_dict(model, io::state_dict(other), "g.safetensors"); });
    CHECK(message.find("lm_head.weight is (9,8) in the file but (7,8) in the model") != std::string::npos);
    CHECK(message.find("token_embedding_table.weight") != std::string::npos);
    CHECK(model.ln_final->weight.data()[0] == before);
}

TEST_CASE("io::load_state_dict: a tensor of an integer dtype is an error naming it") {
    Generator gen(1);
    GPT<float> model(state_dict_config(), gen);
    safetensors::Contents sd = io::state_dict(model);
    sd.tensors["ln_final.bias"] = safetensors::from_tensor(IndexTensor::zeros({8}));
    const std::string message = error_of([&] { io::load_state_dict(model, sd, "f.safetensors"); });
    CHECK(message.find("ln_final.bias") != std::string::npos);
    CHECK(message.find("I64") != std::string::npos);
}

TEST_CASE("io::config_from_metadata: missing, malformed and invalid fields are errors") {
    auto metadata = io::config_metadata(state_dict_config());
    CHECK(io::config_from_metadata(metadata, "m").n_embed == 8);
    auto missing = metadata;
    missing.erase("n_layer");
    CHECK(error_of([&] { io::config_from_metadata(missing, "m"); }).find("no 'n_layer'") != std::string::npos);
    auto malformed = metadata;
    malformed["n_head"] = "two";
    CHECK(error_of([&] { io::config_from_metadata(malformed, "m"); }).find("'two' is not an integer") !=
          std::string::npos);
    auto invalid = metadata;
    invalid["n_head"] = "3";
    CHECK(error_of([&] { io::config_from_metadata(invalid, "m"); }).find("divisible") != std::string::npos);
}

TEST_CASE("io::parse_metadata_integer, _unsigned and _real read whole values or name the field") {
    CHECK(io::parse_metadata_integer("-42", "k", "m") == -42);
    CHECK(io::parse_metadata_integer("9223372036854775807", "k", "m") == 9223372036854775807LL);
    CHECK(io::parse_metadata_unsigned("18446744073709551615", "k", "m") == 18446744073709551615ULL);
    CHECK(io::parse_metadata_unsigned("0", "k", "m") == 0);
    CHECK(io::parse_metadata_real("0.25", "k", "m") == 0.25);
    CHECK(error_of([] { io::parse_metadata_integer("12x", "k", "m"); }) == "m: metadata 'k' = '12x' is not an integer");
    CHECK(error_of([] { io::parse_metadata_integer("9223372036854775808", "k", "m"); }).find("is not an integer") !=
          std::string::npos);
    CHECK(error_of([] { io::parse_metadata_real("", "k", "m"); }) == "m: metadata 'k' = '' is not a number");
    CHECK(error_of([] { io::parse_metadata_unsigned("-1", "k", "m"); }) ==
          "m: metadata 'k' = '-1' is not a non-negative integer");
    CHECK(error_of([] { io::parse_metadata_unsigned("18446744073709551616", "k", "m"); }).find("is not a") !=
          std::string::npos);
}

TEST_CASE("io::adamw_state_dict: the optimizer state round-trips and continues identically") {
    Generator gen(1);
    GPT<double> model(state_dict_config(), gen);
    optim::AdamW<double> optimizer(model.parameters(), {1e-2});
    const IndexTensor x = IndexTensor::from_data({2, 4}, {0, 1, 2, 3, 4, 5, 6, 0});
    const IndexTensor y = IndexTensor::from_data({2, 4}, {1, 2, 3, 4, 5, 6, 0, 1});
    auto train_step = [&](GPT<double>& m, optim::AdamW<double>& opt) {
        const Tensord loss = m.forward(x, y).loss;
        opt.zero_grad();
        loss.backward();
        opt.step();
        return loss.item();
    };
    train_step(model, optimizer);
    train_step(model, optimizer);
    const safetensors::Contents saved_model = io::state_dict(model);
    const safetensors::Contents saved_optim = io::adamw_state_dict(optimizer, model);

    Generator other_gen(2);
    GPT<double> restored(state_dict_config(), other_gen);
    io::load_state_dict(restored, saved_model, "model");
    optim::AdamW<double> restored_optimizer(restored.parameters(), {1e-2});
    io::load_adamw_state_dict(restored_optimizer, restored, saved_optim, "optim");
    CHECK(restored_optimizer.state().steps == optimizer.state().steps);
    for (int k = 0; k < 3; ++k) CHECK(train_step(restored, restored_optimizer) == train_step(model, optimizer));

    safetensors::Contents broken = saved_optim;
    broken.tensors.erase("exp_avg.lm_head.bias");
    CHECK(error_of([&] { io::load_adamw_state_dict(restored_optimizer, restored, broken, "optim"); })
              .find("no 'exp_avg.lm_head.bias'") != std::string::npos);
}
