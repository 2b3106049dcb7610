#pragma once
// `babygpt train`: read a UTF-8 text, train BabyGPT on it with AdamW, evaluate, checkpoint, then sample.

#include <set>
#include <string>

#include "settings.hpp"

namespace babygpt_cli {

struct TrainRequest {
    TrainSettings settings;             // preset plus every option given on the command line or in --config
    std::set<std::string> explicit_options;  // names of the settings the user gave (they win over a checkpoint's)
    std::string data_path;              // empty: the checkpoint's data (on resume) or the default corpus
    std::string out_path;               // empty: runs/<data name>.safetensors (or the resumed checkpoint)
    std::string resume_path;            // empty: a fresh run
    std::int64_t sample_tokens = 100;   // new tokens per prompt after training (0: no sample)
};

/// Runs the training; returns the process exit code (0, or 3 if the loss diverged, 130 if interrupted).
int run_train(TrainRequest request);

}  // namespace babygpt_cli
