#pragma once
// `babygpt train`: read a UTF-8 text, train BabyGPT on it with AdamW, evaluate, checkpoint, then sample.

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "settings.hpp"
#include "world.hpp"

namespace babygpt_cli {

/// Copies one setting (the field of one option) from `from` to `to`.
using SettingCopy = std::function<void(TrainSettings& to, const TrainSettings& from)>;

struct TrainRequest {
    TrainSettings settings;             // preset plus every option given on the command line or in --config
    // The settings the user gave (they win over a checkpoint's), by option name, each with how to copy it.
    std::map<std::string, SettingCopy> explicit_options;
    std::string data_path;              // empty: the checkpoint's data (on resume) or the default corpus
    std::string out_path;               // empty: runs/<data name>.safetensors (or the resumed checkpoint)
    std::string resume_path;            // empty: a fresh run
    std::string config_path;            // the --config file (an input no output may replace); empty: none
    bool overwrite = false;             // --overwrite: an earlier run's files at out_path may be replaced
    std::int64_t sample_tokens = 100;   // new tokens per prompt after training (0: no sample)
    bool log_stats = false;             // --log-stats: block statistics at every evaluation (block_stats.hpp)
    bool activation_checkpointing = false;  // --activation-checkpointing: recompute each block in backward
    std::string dtype = "fp32";         // --dtype: fp32, or bf16 for the linear layers' products (bf16_products.hpp)
    // Across processes (mpirun), gradients are summed in buckets of this many bytes as backward completes
    // them (gradient_sum.hpp); 0: in one all-reduce after backward. Unset: 4 MB buckets when the processes
    // span several machines, one all-reduce when they share one (measured: README, "Training on several
    // machines").
    std::optional<std::size_t> bucket_bytes;
};

/// Runs the training, as one of world.size() processes (data-parallel, world.hpp); returns the process
/// exit code: 0, 3 if the loss diverged, or 128 + the signal's number if SIGINT, SIGTERM or SIGHUP
/// interrupted it (130, 143, 129; a checkpoint is saved first). Every rank returns the same code.
int run_train(TrainRequest request, World& world);

}  // namespace babygpt_cli
