#include "train.hpp"

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <babygpt/autograd.hpp>
#include <babygpt/data/batches.hpp>
#include <babygpt/data/utf8.hpp>
#include <babygpt/data/vocabulary.hpp>
#include <babygpt/models/gpt.hpp>
#include <babygpt/optim/adamw.hpp>
#include <babygpt/threads.hpp>

#include "metrics.hpp"
#include "run_files.hpp"
#include "sampling.hpp"

namespace babygpt_cli {

namespace {

using Clock = std::chrono::steady_clock;
using babygpt::Generator;

volatile std::sig_atomic_t interrupted = 0;
extern "C" void on_interrupt(int) { interrupted = 1; }

/// While it lives, SIGINT (Ctrl-C) only sets `interrupted` (cleared on construction), so that the training
/// loop can save and stop; the previous handler comes back when it goes, however the scope is left.
class InterruptGuard {
public:
    InterruptGuard() {
        interrupted = 0;
        previous_ = std::signal(SIGINT, on_interrupt);
    }
    ~InterruptGuard() { std::signal(SIGINT, previous_); }
    InterruptGuard(const InterruptGuard&) = delete;
    InterruptGuard& operator=(const InterruptGuard&) = delete;

private:
    decltype(std::signal(SIGINT, SIG_DFL)) previous_;
};

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The text as tokens, with the file's problems reported by name.
struct Corpus {
    babygpt::data::Vocabulary vocabulary;
    std::vector<std::int64_t> tokens;
};

Corpus read_corpus(const std::string& path) {
    BABYGPT_CHECK(std::filesystem::exists(path), path, ": no such file; pass a UTF-8 text file with --data");
    BABYGPT_CHECK(!std::filesystem::is_directory(path), path, ": is a directory; pass a UTF-8 text file with --data");
    const std::string bytes = babygpt::data::read_file(path);
    BABYGPT_CHECK(!bytes.empty(), path, ": the file is empty; pass a text with at least a few hundred characters");
    const std::vector<char32_t> text = babygpt::data::decode_utf8(bytes, path);
    Corpus corpus;
    corpus.vocabulary = babygpt::data::Vocabulary::from_text(text);
    corpus.tokens = corpus.vocabulary.encode(text);
    return corpus;
}

/// Evaluation batches come from their own generator, seeded by the run's seed and the step, so an
/// evaluation never disturbs the training batches (and a resumed run evaluates exactly as an
/// uninterrupted one).
Generator evaluation_generator(std::uint64_t seed, std::int64_t step) {
    return Generator(seed ^ (0x9E3779B97F4A7C15ULL * static_cast<std::uint64_t>(step + 1)));
}

double estimate_loss(babygpt::GPT<float>& model, const std::vector<std::int64_t>& tokens, const TrainSettings& s,
                     Generator& gen) {
    babygpt::NoGradGuard no_grad;
    model.eval();
    double total = 0;
    for (std::int64_t i = 0; i < s.eval_iters; ++i) {
        const babygpt::data::Batch batch = babygpt::data::get_batch(tokens, s.batch_size, s.block_size, gen);
        total += model.loss(batch.x, batch.y).item();
    }
    model.train();
    return total / static_cast<double>(s.eval_iters);
}

/// A one-line progress display, redrawn in place; only used when stdout is a terminal.
class ProgressLine {
public:
    explicit ProgressLine(bool enabled) : enabled_(enabled) {}

    void update(std::int64_t step, std::int64_t max_iters, double loss, double tokens_per_sec) {
        if (!enabled_ || seconds_since(last_draw_) < 0.2) return;
        last_draw_ = Clock::now();
        const double eta = tokens_per_sec > 0 ? static_cast<double>(max_iters - step) * tokens_per_step_ / tokens_per_sec : 0;
        std::printf("\r\033[Kstep %lld/%lld | loss %.4f | %.0f tokens/s | ETA %d:%02d", static_cast<long long>(step),
                    static_cast<long long>(max_iters), loss, tokens_per_sec, static_cast<int>(eta) / 60,
                    static_cast<int>(eta) % 60);
        std::fflush(stdout);
        drawn_ = true;
    }
    void clear() {
        if (drawn_) std::printf("\r\033[K");
        drawn_ = false;
    }
    void set_tokens_per_step(double n) { tokens_per_step_ = n; }

private:
    bool enabled_;
    bool drawn_ = false;
    double tokens_per_step_ = 1;
    Clock::time_point last_draw_ = Clock::now();
};

/// Applies a resumed checkpoint's settings, keeping the options the user gave explicitly; the model's
/// shape, the train ratio and the seed cannot change.
TrainSettings merge_resumed_settings(const TrainSettings& stored, const TrainRequest& request) {
    const TrainSettings& given = request.settings;
    auto is_given = [&](const char* name) { return request.explicit_options.count(name) > 0; };
    auto shape_unchanged = [&](const char* name, std::int64_t before, std::int64_t now) {
        BABYGPT_CHECK(!is_given(name) || before == now, "--", name, " ", now, " differs from the checkpoint's ", before,
                      "; a resumed run keeps the model's shape (drop --", name, " or start a new run)");
    };
    shape_unchanged("block-size", stored.block_size, given.block_size);
    shape_unchanged("n-embed", stored.n_embed, given.n_embed);
    shape_unchanged("n-head", stored.n_head, given.n_head);
    shape_unchanged("n-layer", stored.n_layer, given.n_layer);
    BABYGPT_CHECK(!is_given("train-ratio") || given.train_ratio == stored.train_ratio,
                  "--train-ratio cannot change when resuming (the validation text would change)");
    BABYGPT_CHECK(!is_given("seed") || given.seed == stored.seed,
                  "--seed cannot change when resuming (the checkpoint continues its own random streams)");
    // Every explicit option wins; for the shape, the train ratio and the seed that copies what is stored.
    TrainSettings s = stored;
    for (const auto& [name, copy] : request.explicit_options) copy(s, given);
    s.threads = given.threads;
    s.save_every = given.save_every;
    return s;
}

/// Reports a loss that became NaN or infinite ("loss" of an evaluation, or "training loss") on stderr;
/// returns the exit code for it.
int report_divergence(const char* which, bool nan, std::int64_t step, bool saved, const std::string& model_path) {
    std::fprintf(stderr, "error: the %s became %s at step %lld; training stopped. %s Try a lower --learning-rate.\n",
                 which, nan ? "NaN" : "infinite", static_cast<long long>(step),
                 saved ? ("The last good checkpoint is " + model_path + ".").c_str() : "No checkpoint was written.");
    return 3;
}

std::string default_out_path(const std::string& data_path) {
    return (std::filesystem::path("runs") / std::filesystem::path(data_path).stem()).string() + ".safetensors";
}

}  // namespace

int run_train(TrainRequest request) {
    // ---- settings, data and files: every check before any work or any file is written ----
    std::optional<LoadedCheckpoint> resumed;
    TrainSettings s = request.settings;
    if (!request.resume_path.empty()) {
        resumed = load_checkpoint(request.resume_path);
        s = merge_resumed_settings(resumed->info.settings, request);
        if (request.data_path.empty()) request.data_path = resumed->info.data_path;
        if (request.out_path.empty()) request.out_path = request.resume_path;
    }
    validate(s);
    if (request.data_path.empty()) request.data_path = BABYGPT_DEFAULT_DATA;
    if (request.out_path.empty()) request.out_path = default_out_path(request.data_path);
    const RunPaths paths = RunPaths::for_checkpoint(request.out_path);

    const Corpus corpus = read_corpus(request.data_path);
    if (resumed) {
        BABYGPT_CHECK(corpus.vocabulary.chars() == resumed->info.vocabulary.chars(), request.data_path, ": its ",
                      corpus.vocabulary.size(), "-character vocabulary differs from the checkpoint's ",
                      resumed->info.vocabulary.size(), " characters; resume on the text the checkpoint was trained on");
        BABYGPT_CHECK(resumed->info.step < s.max_iters, request.resume_path, ": the checkpoint has done ",
                      resumed->info.step, " steps already; pass --max-iters above ", resumed->info.step,
                      " to train further");
    }
    const babygpt::data::Split split = babygpt::data::split_tokens(corpus.tokens, s.train_ratio, s.block_size);
    const babygpt::GPTConfig config = s.model_config(corpus.vocabulary.size());  // valid: validate(s) checked it
    babygpt::set_num_threads(s.threads);

    // ---- model, optimizer and random streams (restored on resume) ----
    Generator gen(s.seed);  // initialisation, then training batches, as the reference's global generator
    babygpt::GPT<float> model(config, gen);
    babygpt::optim::AdamWOptions adamw;
    adamw.lr = s.learning_rate;
    babygpt::optim::AdamW<float> optimizer(model.parameters(), adamw);
    CheckpointInfo info;
    info.settings = s;
    info.vocabulary = corpus.vocabulary;
    info.data_path = request.data_path;
    std::vector<MetricRow> metrics;
    if (resumed) {
        load_weights(model, *resumed, request.resume_path);
        load_optimizer(optimizer, model, RunPaths::for_checkpoint(request.resume_path), resumed->info);
        gen.set_state(resumed->info.batch_generator);
        model.dropout_generator().set_state(resumed->info.dropout_generator);
        info.step = resumed->info.step;
        info.evaluated_step = resumed->info.evaluated_step;
        info.run_id = resumed->info.run_id;
        info.train_loss = resumed->info.train_loss;
        info.val_loss = resumed->info.val_loss;
        for (const MetricRow& row : read_metrics_csv(RunPaths::for_checkpoint(request.resume_path).csv))
            if (row.step < info.step || row.step == info.evaluated_step) metrics.push_back(row);
    }

    std::printf("babygpt: %s, %lld characters, vocabulary %lld; %.6f M parameters; preset %s; %d thread%s%s\n",
                request.data_path.c_str(), static_cast<long long>(corpus.tokens.size()),
                static_cast<long long>(corpus.vocabulary.size()), model.parameter_count() / 1e6, s.preset.c_str(),
                s.threads, s.threads == 1 ? "" : "s", resumed ? (", resuming at step " + std::to_string(info.step)).c_str() : "");
    std::fflush(stdout);

    bool saved_once = false;
    auto save = [&](std::int64_t step) {
        info.step = step;
        info.batch_generator = gen.state();
        info.dropout_generator = model.dropout_generator().state();
        save_checkpoint(paths, info, model, optimizer);
        saved_once = true;
    };
    // Whether step k starts with an evaluation (which saves the checkpoint).
    auto evaluates = [&](std::int64_t k) { return k % s.eval_interval == 0 || k == s.max_iters - 1; };

    // ---- the training loop ----
    const double tokens_per_step = static_cast<double>(s.batch_size * s.block_size);
    ProgressLine progress(::isatty(STDOUT_FILENO) == 1);
    progress.set_tokens_per_step(tokens_per_step);
    const double elapsed_before = metrics.empty() ? 0.0 : metrics.back().elapsed;
    double training_seconds = 0, window_seconds = 0;
    std::int64_t window_steps = 0;
    std::optional<InterruptGuard> interrupt_guard(std::in_place);

    for (std::int64_t step = info.step; step < s.max_iters; ++step) {
        if (interrupted) {
            progress.clear();
            save(step);
            std::printf("interrupted at step %lld; saved %s (resume with: babygpt train --resume %s)\n",
                        static_cast<long long>(step), paths.model.c_str(), paths.model.c_str());
            return 130;
        }
        if (evaluates(step) && step != info.evaluated_step) {
            Generator eval_gen = evaluation_generator(s.seed, step);
            const double train_loss = estimate_loss(model, split.train, s, eval_gen);
            const double val_loss = estimate_loss(model, split.val, s, eval_gen);
            const double speed = window_seconds > 0 ? static_cast<double>(window_steps) * tokens_per_step / window_seconds : 0.0;
            progress.clear();
            std::printf("step %lld: train loss %.4f, val loss %.4f, speed: %.2f tokens/sec\n",
                        static_cast<long long>(step), train_loss, val_loss, speed);
            std::fflush(stdout);
            if (!std::isfinite(train_loss) || !std::isfinite(val_loss))
                return report_divergence("loss", std::isnan(val_loss) || std::isnan(train_loss), step, saved_once,
                                         paths.model);
            info.train_loss = train_loss;
            info.val_loss = val_loss;
            info.evaluated_step = step;
            metrics.push_back({step, train_loss, val_loss, speed, elapsed_before + training_seconds});
            window_seconds = 0;
            window_steps = 0;
            save(step);
            write_text_file(paths.csv, metrics_csv(metrics));
            write_text_file(paths.svg, loss_plot_svg(metrics, "BabyGPT on " + std::filesystem::path(request.data_path).filename().string()));
        }

        const auto start = Clock::now();
        const babygpt::data::Batch batch = babygpt::data::get_batch(split.train, s.batch_size, s.block_size, gen);
        const babygpt::Tensorf loss = model.loss(batch.x, batch.y);
        const float loss_value = loss.item();
        if (!std::isfinite(loss_value)) {
            progress.clear();
            return report_divergence("training loss", std::isnan(loss_value), step, saved_once, paths.model);
        }
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        const double dt = seconds_since(start);
        training_seconds += dt;
        window_seconds += dt;
        ++window_steps;
        progress.update(step + 1, s.max_iters, loss_value,
                        window_seconds > 0 ? static_cast<double>(window_steps) * tokens_per_step / window_seconds : 0);
        // A step that evaluates saves at its start anyway (and the last step's save follows the loop).
        if (s.save_every > 0 && (step + 1) % s.save_every == 0 && step + 1 < s.max_iters && !evaluates(step + 1))
            save(step + 1);
    }
    progress.clear();
    save(s.max_iters);
    interrupt_guard.reset();  // Ctrl-C ends the sampling below as usual
    std::printf("saved %s (metrics: %s, plot: %s)\n", paths.model.c_str(), paths.csv.c_str(), paths.svg.c_str());

    if (request.sample_tokens > 0) {
        model.eval();
        Generator sample_gen(s.seed);
        for (const std::string& prompt : default_prompts(corpus.vocabulary)) {
            std::printf("\n--- sample (prompt %s) ---\n", prompt == "\n" ? "a newline" : ("\"" + prompt + "\"").c_str());
            stream_sample(model, corpus.vocabulary, prompt, request.sample_tokens, babygpt::SamplingOptions{}, sample_gen);
        }
    }
    return 0;
}

}  // namespace babygpt_cli
