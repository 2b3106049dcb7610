#include "ladder.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <CLI/CLI.hpp>

#include <babygpt/babygpt.hpp>  // with BABYGPT_PRECOMPILED: the library's code comes compiled (instances.hpp)
#include <babygpt/data/batches.hpp>
#include <babygpt/data/utf8.hpp>
#include <babygpt/error.hpp>
#include <babygpt/io/state_dict.hpp>
#include <babygpt/models/gpt.hpp>  // sample_token
#include <babygpt/ops/loss.hpp>
#include <babygpt/optim/adamw.hpp>
#include <babygpt/threads.hpp>

namespace tutorial {

namespace {

[[noreturn]] void exit_with_error(const std::string& message) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s\n", message.c_str());
    std::exit(1);
}

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

/// Refuses an --out that would replace something other than an earlier checkpoint: the text being
/// trained on, a directory, or any file that is not safetensors (8 bytes of header length, then '{').
void check_out_path(const std::string& out, const std::string& data) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (!fs::exists(out, ec)) return;
    BABYGPT_CHECK(!fs::equivalent(out, data, ec), "--out ", out, " is the training text; choose another file");
    BABYGPT_CHECK(fs::is_regular_file(out, ec), "--out ", out, " exists and is not a file; choose another path");
    std::ifstream file(out, std::ios::binary);
    char start[9] = {};
    file.read(start, sizeof start);
    BABYGPT_CHECK(file.gcount() == 9 && start[8] == '{', "--out ", out,
                  " exists and is not a checkpoint; it would be replaced: choose another path or remove it");
}

}  // namespace

Ladder::Ladder(int argc, char** argv, const std::string& name, const std::string& adds, LadderSettings defaults)
    : name_(name), settings_(std::move(defaults)) {
    CLI::App app(name + ": " + adds + " (the tutorial's step, in C++)");
    LadderSettings& s = settings_;
    app.add_option("--data", s.data, "UTF-8 text file to train on")->required();
    app.add_option("--max-iters", s.max_iters, "training iterations")->capture_default_str();
    app.add_option("--eval-interval", s.eval_interval, "iterations between evaluations")->capture_default_str();
    app.add_option("--eval-iters", s.eval_iters, "batches per split in each evaluation")->capture_default_str();
    app.add_option("--seed", s.seed, "random seed for the weights, the batches and sampling")->capture_default_str();
    app.add_option("--threads", s.threads, "threads for the compute")->capture_default_str();
    app.add_option("--out", s.out, "checkpoint to write (default: " + name + ".safetensors)");
    app.add_option("--probe", s.probe,
                   "also write the logits of a fixed input to this safetensors file, for comparing with the PyTorch "
                   "step (tools/tutorial_models.py --probe)");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        std::exit(app.exit(e));
    }
    if (s.out.empty()) s.out = name + ".safetensors";
    try {
        BABYGPT_CHECK(s.max_iters > 0, "--max-iters must be positive, got ", s.max_iters);
        BABYGPT_CHECK(s.eval_interval > 0, "--eval-interval must be positive, got ", s.eval_interval);
        BABYGPT_CHECK(s.eval_iters > 0, "--eval-iters must be positive, got ", s.eval_iters);
        BABYGPT_CHECK(s.threads >= 1 && s.threads <= babygpt::max_threads, "--threads must be between 1 and ",
                      babygpt::max_threads, ", got ", s.threads);
        babygpt::set_num_threads(s.threads);
        check_out_path(s.out, s.data);
        if (!s.probe.empty()) check_out_path(s.probe, s.data);
        const std::vector<char32_t> text = babygpt::data::read_utf8_file(s.data);
        vocabulary_ = babygpt::data::Vocabulary::from_text(text);
        const std::vector<std::int64_t> tokens = vocabulary_.encode(text);
        babygpt::data::Split split = babygpt::data::split_tokens(tokens, 0.9, s.block_size);
        train_tokens_ = std::move(split.train);
        val_tokens_ = std::move(split.val);
    } catch (const babygpt::Error& e) {
        exit_with_error(e.what());
    }
}

double Ladder::estimate_loss(const StepModel& model, const std::vector<std::int64_t>& tokens,
                             babygpt::Generator& batches) const {
    babygpt::NoGradGuard no_grad;
    double total = 0;
    for (std::int64_t k = 0; k < settings_.eval_iters; ++k) {
        const babygpt::data::Batch batch =
            babygpt::data::get_batch(tokens, settings_.batch_size, settings_.block_size, batches);
        total += static_cast<double>(babygpt::cross_entropy(model.logits(batch.x), batch.y).item());
    }
    return total / static_cast<double>(settings_.eval_iters);
}

int Ladder::train(StepModel model) const {
    const LadderSettings& s = settings_;
    try {
        std::printf("%s: %lld parameters, vocabulary of %lld characters\n", name_.c_str(),
                    static_cast<long long>(model.module.parameter_count()), static_cast<long long>(vocab_size()));
        babygpt::Generator batches(s.seed);  // the weights were drawn from their own generator
        babygpt::optim::AdamW<float> optimizer(model.module.parameters(), babygpt::optim::AdamWOptions(s.learning_rate));
        auto since_print = std::chrono::steady_clock::now();
        std::int64_t tokens_since_print = 0;
        for (std::int64_t i = 0; i < s.max_iters; ++i) {
            const babygpt::data::Batch batch = babygpt::data::get_batch(train_tokens_, s.batch_size, s.block_size, batches);
            const babygpt::Tensorf loss = babygpt::cross_entropy(model.logits(batch.x), batch.y);
            optimizer.zero_grad();
            loss.backward();
            optimizer.step();
            tokens_since_print += s.batch_size * s.block_size;
            if (i % s.eval_interval != 0) continue;
            const double speed = static_cast<double>(tokens_since_print) / seconds_since(since_print);
            model.module.eval();
            const double train_loss = estimate_loss(model, train_tokens_, batches);
            const double val_loss = estimate_loss(model, val_tokens_, batches);
            model.module.train();
            std::printf("step %lld: train loss %.4f, val loss %.4f, speed: %.2f tokens/sec\n", static_cast<long long>(i),
                        train_loss, val_loss, speed);
            std::fflush(stdout);
            BABYGPT_CHECK(std::isfinite(train_loss) && std::isfinite(val_loss), "the loss is no longer finite at step ",
                          i, "; the model diverged (the checkpoint is not written)");
            since_print = std::chrono::steady_clock::now();
            tokens_since_print = 0;
        }
        model.module.eval();
        sample(model, batches);
        save(model);
        if (!settings_.probe.empty()) write_probe(model);
    } catch (const babygpt::Error& e) {
        std::fflush(stdout);
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    return 0;
}

void Ladder::sample(const StepModel& model, babygpt::Generator& gen) const {
    babygpt::NoGradGuard no_grad;
    // The tutorial's prompts; a text without their characters starts from a newline (or its first character).
    const std::vector<std::u32string> tutorial_prompts = {U"春江", U"往事"};
    bool known = true;
    for (const std::u32string& prompt : tutorial_prompts)
        for (char32_t c : prompt) known = known && vocabulary_.contains(c);
    const char32_t start = vocabulary_.contains(U'\n') ? U'\n' : vocabulary_.chars().front();
    const std::vector<std::u32string> prompts = known ? tutorial_prompts : std::vector<std::u32string>{{start}};
    std::vector<double> probs(static_cast<std::size_t>(vocab_size()));  // sample_token's scratch
    for (const std::u32string& prompt : prompts) {
        std::vector<std::int64_t> ids = vocabulary_.encode(std::vector<char32_t>(prompt.begin(), prompt.end()));
        for (std::int64_t n = 0; n < settings_.max_new_tokens; ++n) {
            // The last block_size tokens as the context (the positions the model has), the last row's logits.
            const std::size_t T = std::min(ids.size(), static_cast<std::size_t>(settings_.block_size));
            babygpt::IndexTensor context = babygpt::IndexTensor::empty({1, static_cast<std::int64_t>(T)});
            std::copy(ids.end() - static_cast<std::ptrdiff_t>(T), ids.end(), context.data());
            const babygpt::Tensorf logits = model.logits(context);  // (1, T, V)
            const float* last = logits.data() + (static_cast<std::int64_t>(T) - 1) * vocab_size();
            // One multinomial draw from softmax(last), as GPT::generate draws.
            const std::int64_t next = babygpt::sample_token(last, vocab_size(), babygpt::SamplingOptions{}, gen, probs);
            ids.push_back(next);
        }
        std::printf("%s\n", vocabulary_.decode(ids).c_str());
    }
}

babygpt::IndexTensor Ladder::probe_input() const {
    const std::int64_t T = std::min<std::int64_t>(settings_.block_size, 8);
    babygpt::IndexTensor idx = babygpt::IndexTensor::empty({1, T});
    for (std::int64_t t = 0; t < T; ++t) idx.data()[t] = (7 * t + 3) % vocab_size();
    return idx;
}

void Ladder::write_probe(const StepModel& model) const {
    babygpt::NoGradGuard no_grad;
    const babygpt::IndexTensor idx = probe_input();
    babygpt::safetensors::Contents probe;
    probe.tensors["idx"] = babygpt::safetensors::from_tensor(idx);
    probe.tensors["logits"] = babygpt::safetensors::from_tensor(model.logits(idx));  // (1, T, V), eval mode
    babygpt::safetensors::save(settings_.probe, probe);
}

void Ladder::save(const StepModel& model) const {
    const std::filesystem::path dir = std::filesystem::path(settings_.out).parent_path();
    std::error_code ec;
    if (!dir.empty()) std::filesystem::create_directories(dir, ec);
    babygpt::io::save_state_dict(settings_.out, model.module,
                                 {{"step", name_}, {"vocab", vocabulary_.to_utf8()}, {"data", settings_.data}});
    std::printf("saved %s\n", settings_.out.c_str());
}

}  // namespace tutorial
