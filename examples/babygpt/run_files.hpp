#pragma once
// The checkpoint of a training run: the model state_dict plus metadata, and its optimizer sibling. All
// writes are atomic (temporary file, fsync, rename), as are those of the metrics CSV and SVG next to
// them (train.cpp writes those with babygpt::io::write_file_atomically).

#include <cstdint>
#include <limits>
#include <string>

#include <babygpt/data/vocabulary.hpp>
#include <babygpt/io/safetensors.hpp>
#include <babygpt/models/gpt.hpp>
#include <babygpt/optim/adamw.hpp>
#include <babygpt/instances.hpp>  // with BABYGPT_PRECOMPILED: the model's templates are compiled once

#include "output_files.hpp"
#include "settings.hpp"

namespace babygpt_cli {

/// Everything besides the tensors that a resumed run needs, stored in the checkpoint's metadata.
struct CheckpointInfo {
    TrainSettings settings;
    babygpt::data::Vocabulary vocabulary;
    std::string data_path;
    std::int64_t step = 0;             // training steps completed
    std::int64_t evaluated_step = -1;  // the step whose evaluation is already printed and recorded
    std::string batch_generator;       // babygpt::Generator::state() of the batch sampler
    std::string dropout_generator;     // ... and of the model's dropout masks (both empty when imported from PyTorch)
    std::string run_id;                // pairs the model file with its optimizer file
    std::string imported_from;         // "pytorch" for a file written by tools/import_pytorch.py, kept on re-save
    double train_loss = std::numeric_limits<double>::quiet_NaN();
    double val_loss = std::numeric_limits<double>::quiet_NaN();
};

/// Writes the optimizer file, then the model file (each atomically).
void save_checkpoint(const RunPaths& paths, const CheckpointInfo& info, const babygpt::GPT<float>& model,
                     const babygpt::optim::AdamW<float>& optimizer);

/// A loaded checkpoint file: its metadata decoded and its tensors, validated as a safetensors file.
struct LoadedCheckpoint {
    CheckpointInfo info;
    babygpt::safetensors::Contents contents;
};
/// The file is checked first (check_checkpoint_file: a regular file with a safetensors header), so that
/// a wrong path is refused before it is read; `option` names where the path came from (e.g. "--resume").
LoadedCheckpoint load_checkpoint(const std::string& path, const char* option);

/// Copies the weights into a model built from info.settings (errors name missing or mis-shaped tensors).
void load_weights(babygpt::GPT<float>& model, const LoadedCheckpoint& checkpoint, const std::string& path);

/// Restores the optimizer from the sibling file, checking that it belongs to this checkpoint.
void load_optimizer(babygpt::optim::AdamW<float>& optimizer, const babygpt::GPT<float>& model,
                    const RunPaths& paths, const CheckpointInfo& info);

}  // namespace babygpt_cli
