#pragma once
// Training settings: the reference's presets, and the checks that turn impossible values into one
// clear error before any work starts.

#include <cstdint>
#include <string>

#include <babygpt/error.hpp>
#include <babygpt/models/gpt.hpp>

#include "errors.hpp"
#include "threads_option.hpp"

namespace babygpt_cli {

struct TrainSettings {
    std::string preset = "v9";
    std::int64_t batch_size = 32;
    std::int64_t block_size = 8;
    std::int64_t n_embed = 32;
    std::int64_t n_head = 4;
    std::int64_t n_layer = 3;
    double dropout = 0.0;
    std::string norm = "pre";  // where the LayerNorms sit: pre (the reference), post or none
    double learning_rate = 1e-2;
    std::int64_t max_iters = 5000;
    std::int64_t eval_interval = 200;
    std::int64_t eval_iters = 100;
    double train_ratio = 0.9;
    std::uint64_t seed = 42;
    int threads = 1;                // main() sets the default: available_cores()
    std::int64_t save_every = 0;  // 0: save at every evaluation and at the end only

    babygpt::GPTConfig model_config(std::int64_t vocab_size) const {
        babygpt::GPTConfig config;
        config.vocab_size = vocab_size;
        config.block_size = block_size;
        config.n_embed = n_embed;
        config.n_head = n_head;
        config.n_layer = n_layer;
        config.dropout = dropout;
        config.norm = babygpt::parse_norm_placement(norm, "--norm");
        return config;
    }
};

/// The reference's presets: v9 (the LayerNorm step, the default) and v11 (the full configuration).
inline TrainSettings preset_settings(const std::string& name) {
    TrainSettings s;
    s.preset = name;
    if (name == "v9") return s;
    if (name == "v11") {
        s.batch_size = 64;
        s.block_size = 256;
        s.n_embed = 384;
        s.n_head = 6;
        s.n_layer = 6;
        s.dropout = 0.2;
        s.learning_rate = 3e-4;
        return s;
    }
    fail("unknown preset '", name, "'; choose v9 or v11");
}

/// Every setting must be usable; the message names the option to change.
inline void validate(const TrainSettings& s) {
    auto positive = [](std::int64_t v, const char* option) {
        BABYGPT_CHECK(v > 0, "--", option, " must be a positive integer, got ", v);
    };
    positive(s.batch_size, "batch-size");
    positive(s.block_size, "block-size");
    positive(s.n_embed, "n-embed");
    positive(s.n_head, "n-head");
    positive(s.n_layer, "n-layer");
    positive(s.max_iters, "max-iters");
    positive(s.eval_interval, "eval-interval");
    positive(s.eval_iters, "eval-iters");
    BABYGPT_CHECK(s.n_embed % s.n_head == 0, "--n-embed (", s.n_embed, ") must be divisible by --n-head (", s.n_head,
                  ")");
    BABYGPT_CHECK(s.dropout >= 0.0 && s.dropout < 1.0, "--dropout must be in [0, 1), got ", s.dropout);
    babygpt::parse_norm_placement(s.norm, "--norm");  // throws for anything but pre, post or none
    BABYGPT_CHECK(s.learning_rate > 0.0 && s.learning_rate < 10.0,
                  "--learning-rate must be positive (and below 10), got ", s.learning_rate);
    BABYGPT_CHECK(s.train_ratio > 0.0 && s.train_ratio < 1.0, "--train-ratio must be between 0 and 1, got ",
                  s.train_ratio);
    check_threads(s.threads);
    BABYGPT_CHECK(s.save_every >= 0, "--save-every must be 0 (off) or positive, got ", s.save_every);
}

}  // namespace babygpt_cli
