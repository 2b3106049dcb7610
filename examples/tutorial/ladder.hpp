#pragma once
// What every step of the tutorial ladder shares: its options, its data, and its training loop.
//
// Each step program (v1_bigram.cpp ... v11_hyper_params.cpp) defines its model from the library's
// modules and hands it to Ladder::train, which runs the tutorial's protocol:
//   - AdamW (PyTorch's defaults) at the step's learning rate, on random windows of the first 90%;
//   - after the update of iteration i, when i % eval_interval == 0, the mean train and val loss over
//     eval_iters batches each, printed as the tutorial prints it:
//         step {i}: train loss {:.4f}, val loss {:.4f}, speed: {:.2f} tokens/sec
//     so the first line already follows one update and, for 5000 iterations, the last is step 4800;
//     speed counts the training tokens since the previous line over the time they took;
//   - 100 new tokens sampled from each prompt ("春江" and "往事" when the text has their characters);
//   - the model's state_dict, exactly the step's PyTorch one, saved as safetensors with the
//     vocabulary in the metadata (load it with tools/tutorial_models.py);
//   - with --probe FILE, the logits of a fixed input (probe_input()) saved to FILE, so that
//     tools/tutorial_models.py can compare the PyTorch step's logits with these.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <babygpt/data/vocabulary.hpp>
#include <babygpt/nn/module.hpp>
#include <babygpt/tensor.hpp>

namespace tutorial {

/// The tutorial's settings, shared by steps 1-10 (TUTORIAL.md); step 11 changes some of them.
struct LadderSettings {
    std::string data;                // the text to train on
    std::string out;                 // the checkpoint to write (default: <step>.safetensors)
    std::string probe;               // empty, or where to write the logits of probe_input()
    std::int64_t max_iters = 5000;
    std::int64_t eval_interval = 200;
    std::int64_t eval_iters = 100;   // batches per split in each evaluation
    std::uint64_t seed = 42;
    int threads = 1;
    std::int64_t batch_size = 32;
    std::int64_t block_size = 8;
    std::int64_t n_embed = 32;
    std::int64_t n_head = 4;         // from step 4
    std::int64_t n_layer = 3;        // from step 6
    double dropout = 0.0;            // from step 10
    double learning_rate = 1e-2;
    std::int64_t max_new_tokens = 100;
};

/// A step's model as the loop sees it: its parameters (a module) and its forward, idx (B, T) token ids
/// -> logits (B, T, V).
struct StepModel {
    babygpt::nn::Module<float>& module;
    std::function<babygpt::Tensorf(const babygpt::IndexTensor&)> logits;
};

class Ladder {
public:
    /// Parses the command line of step `name` ("v1_bigram") over `defaults`, and reads and encodes the
    /// text. On a bad option or file it prints one line to stderr and exits with status 1 (2 for a
    /// command-line syntax error; --help prints the options and exits with 0).
    Ladder(int argc, char** argv, const std::string& name, const std::string& adds, LadderSettings defaults);

    const LadderSettings& settings() const { return settings_; }
    std::int64_t vocab_size() const { return vocabulary_.size(); }

    /// Trains, evaluates, samples and saves the model as described above; returns the exit status.
    int train(StepModel model) const;

    /// The probe's input, (1, T) with T = min(block_size, 8): token ids (7 t + 3) mod V.
    babygpt::IndexTensor probe_input() const;

private:
    void write_probe(const StepModel& model) const;
    double estimate_loss(const StepModel& model, const std::vector<std::int64_t>& tokens,
                         babygpt::Generator& batches) const;
    void sample(const StepModel& model, babygpt::Generator& gen) const;
    void save(const StepModel& model) const;

    std::string name_;
    LadderSettings settings_;
    babygpt::data::Vocabulary vocabulary_;
    std::vector<std::int64_t> train_tokens_, val_tokens_;
};

}  // namespace tutorial
