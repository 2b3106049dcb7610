#pragma once
// `babygpt train`: read a UTF-8 text, train BabyGPT on it with AdamW, evaluate, checkpoint, then sample.

#include <functional>
#include <map>
#include <string>

#include "settings.hpp"

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
};

/// Runs the training; returns the process exit code: 0, 3 if the loss diverged, or 128 + the signal's
/// number if SIGINT, SIGTERM or SIGHUP interrupted it (130, 143, 129; a checkpoint is saved first).
int run_train(TrainRequest request);

}  // namespace babygpt_cli
