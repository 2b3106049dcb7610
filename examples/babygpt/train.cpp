#include "train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <optional>

#include <babygpt/autograd.hpp>
#include <babygpt/bf16_products.hpp>
#include <babygpt/data/batches.hpp>
#include <babygpt/data/utf8.hpp>
#include <babygpt/data/vocabulary.hpp>
#include <babygpt/io/safetensors.hpp>  // io::write_file_atomically
#include <babygpt/models/gpt.hpp>
#include <babygpt/optim/adamw.hpp>
#include <babygpt/threads.hpp>

#include "activity.hpp"
#include "block_stats.hpp"
#include "checkpoint_header.hpp"
#include "gradient_sum.hpp"
#include "input_files.hpp"
#include "metrics.hpp"
#include "output_files.hpp"
#include "progress.hpp"
#include "run_files.hpp"
#include "sampling.hpp"
#include "signals.hpp"
#include "world.hpp"

namespace babygpt_cli {

namespace {

using Clock = std::chrono::steady_clock;
using babygpt::Generator;

constexpr const char* model_size_hint = "try a smaller --batch-size, --block-size or model (--n-embed, --n-layer)";

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

/// The text as tokens, with the file's problems reported by name.
struct Corpus {
    babygpt::data::Vocabulary vocabulary;
    std::vector<std::int64_t> tokens;
};

Corpus read_corpus(const std::string& path) {
    Activity activity("reading the data", "use a smaller text file with --data");
    check_input_file(path, "file", "--data", "pass a UTF-8 text file with --data", max_data_bytes);
    const std::vector<char32_t> text = babygpt::data::read_utf8_file(path);  // a byte order mark is not text
    BABYGPT_CHECK(!text.empty(), path, ": the file is empty; pass a text with at least a few hundred characters");
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

/// Sequences per forward pass of an evaluation. One batch of a big model takes seconds (v11: 64
/// sequences of 256 tokens through 10.8 M parameters, about 400 GFLOP), and a signal can only be
/// honoured between passes; so a batch is split into passes of at most ~16 GFLOP (well under a second).
/// Small models (v9, the tests) evaluate each batch in one pass. Split or not, the batch's loss is the
/// mean over its sequences (up to rounding).
std::int64_t sequences_per_pass(const TrainSettings& s, std::int64_t parameters) {
    // FLOPs per token: 2 per weight, plus the attention scores and their weighted sum (4 * T * C per layer).
    const double per_token = 2.0 * static_cast<double>(parameters) +
                             4.0 * static_cast<double>(s.n_layer * s.block_size * s.n_embed);
    const double per_sequence = per_token * static_cast<double>(s.block_size);
    const double passes = std::clamp(16e9 / per_sequence, 1.0, static_cast<double>(s.batch_size));
    return static_cast<std::int64_t>(passes);
}

/// Rows [first, first + n) of a (B, T) batch tensor (the tensor itself when that is all of it).
babygpt::IndexTensor batch_rows(const babygpt::IndexTensor& batch, std::int64_t first, std::int64_t n) {
    if (first == 0 && n == batch.size(0)) return batch;
    const std::int64_t T = batch.size(1);
    const std::int64_t* begin = batch.data() + first * T;
    return babygpt::IndexTensor::from_data({n, T}, std::vector<std::int64_t>(begin, begin + n * T));
}

/// Whether any rank received a signal (a collective: every rank learns it at the same point, stops
/// there, and exits as if it had received the signal itself). Every check of a signal before the
/// sampling goes through here, so that all ranks stop at the same one.
bool interrupted_anywhere(const World& world) {
    const int number = world.max(interrupt_signal());
    adopt_interrupt(number);
    return number != 0;
}

/// The time evaluation batches take, measured as they run: for the status line's ETA.
struct EvaluationTiming {
    double seconds = 0;
    std::int64_t batches = 0;
    double per_batch(double fallback) const { return batches > 0 ? seconds / static_cast<double>(batches) : fallback; }
};

/// Evaluations still to come after step `step`: at the multiples of eval_interval and the last step.
std::int64_t evaluations_after(std::int64_t step, const TrainSettings& s) {
    const std::int64_t last = s.max_iters - 1;
    if (step >= last) return 0;
    std::int64_t n = last / s.eval_interval - std::max<std::int64_t>(step, 0) / s.eval_interval;
    if (step < 0) ++n;  // step 0 itself
    if (last % s.eval_interval != 0) ++n;
    return n;
}

/// The mean loss over s.eval_iters batches of `tokens` ("train" or "val", for the status line). Each rank
/// computes its share of every batch's rows, and the sums are added across ranks at the end. Throws
/// Interrupted between passes when a signal came to any rank; the model is left as it was (evaluation
/// does not change it).
double estimate_loss(babygpt::GPT<float>& model, const std::vector<std::int64_t>& tokens, const TrainSettings& s,
                     Generator& gen, std::int64_t step, const char* split, std::int64_t per_pass, StatusLine& status,
                     EvaluationTiming& timing, const World& world) {
    babygpt::NoGradGuard no_grad;
    struct TrainingModeBack {
        babygpt::GPT<float>& model;
        ~TrainingModeBack() { model.train(); }
    } training_mode_back{model};
    model.eval();
    const RowShare mine = world.share_of(s.batch_size);
    // The same number of passes on every rank (the last ones may be empty on a rank with fewer rows), so
    // that the interruption checks between them match up.
    const std::int64_t most_rows = (s.batch_size + world.size() - 1) / world.size();
    const std::int64_t passes = (most_rows + per_pass - 1) / per_pass;
    double sum = 0;  // over this rank's rows: each pass's mean loss times its rows
    for (std::int64_t i = 0; i < s.eval_iters; ++i) {
        status.show("evaluating step " + std::to_string(step) + ": " + split + " " + std::to_string(i) + "/" +
                    std::to_string(s.eval_iters) + " batches");
        const auto start = Clock::now();
        const babygpt::data::Batch batch = babygpt::data::get_batch(tokens, s.batch_size, s.block_size, gen);
        for (std::int64_t pass = 0; pass < passes; ++pass) {
            if (interrupted_anywhere(world)) throw Interrupted{};
            const std::int64_t first = mine.first + pass * per_pass;
            const std::int64_t n = std::min(per_pass, mine.first + mine.count - first);
            if (n <= 0) continue;
            sum += static_cast<double>(model.loss(batch_rows(batch.x, first, n), batch_rows(batch.y, first, n)).item()) *
                   static_cast<double>(n);
        }
        timing.seconds += seconds_since(start);
        ++timing.batches;
    }
    return world.sum(sum) / static_cast<double>(s.batch_size * s.eval_iters);
}

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
    BABYGPT_CHECK(!is_given("norm") || given.norm == stored.norm, "--norm ", given.norm, " differs from the checkpoint's ",
                  stored.norm, "; a resumed run keeps the model's shape (drop --norm or start a new run)");
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
int report_divergence(const char* which, bool nan, std::int64_t step, bool saved, const std::string& model_path,
                      const World& world) {
    if (world.is_root())  // every rank stops here; one says why
        std::fprintf(stderr, "error: the %s became %s at step %lld; training stopped. %s Try a lower --learning-rate.\n",
                     which, nan ? "NaN" : "infinite", static_cast<long long>(step),
                     saved ? ("The last good checkpoint is " + model_path + ".").c_str() : "No checkpoint was written.");
    return 3;
}

std::string default_out_path(const std::string& data_path) {
    return (std::filesystem::path("runs") / std::filesystem::path(data_path).stem()).string() + ".safetensors";
}

/// Rank 0's parameters, on every rank: the ranks start (and, as they take the same steps, stay) identical.
void broadcast_parameters(const babygpt::GPT<float>& model, const World& world) {
    if (world.size() == 1) return;
    std::vector<float> flat;
    for (const babygpt::Tensorf& p : model.parameters()) flat.insert(flat.end(), p.data(), p.data() + p.numel());
    world.broadcast_from_root(flat.data(), flat.size());
    const float* in = flat.data();
    for (const babygpt::Tensorf& p : model.parameters()) {
        std::copy_n(in, p.numel(), p.data());
        in += p.numel();
    }
}

/// Rank r > 0 draws its own dropout masks: its rows are other rows than rank 0's, and the same masks on
/// every rank's rows would tie them together. Rank 0 continues the checkpoint's stream (the one it saves).
void separate_dropout_streams(babygpt::GPT<float>& model, const World& world) {
    if (world.rank() == 0) return;
    Generator& dropout = model.dropout_generator();
    const std::uint64_t seed = dropout.next_u64() ^ (0xD1B54A32D192ED03ULL * static_cast<std::uint64_t>(world.rank()));
    dropout.set_state(Generator(seed).state());
}

int train(TrainRequest request, World& world) {
    // ---- settings, data and files: every check before any work or any file is written ----
    std::optional<LoadedCheckpoint> resumed;
    TrainSettings s = request.settings;
    if (!request.resume_path.empty()) {
        Activity activity("loading the checkpoint", "free some memory (loading needs about twice the file's size)");
        StatusLine status(stdout_is_terminal());
        status.show("loading " + request.resume_path + "...", true);
        resumed = load_checkpoint(request.resume_path, "--resume");
        s = merge_resumed_settings(resumed->info.settings, request);
        if (request.data_path.empty()) request.data_path = resumed->info.data_path;
        if (request.out_path.empty()) request.out_path = request.resume_path;
    }
    validate(s);
    std::string no_bf16;
    BABYGPT_CHECK(request.dtype != "bf16" || babygpt::bf16_products_available(&no_bf16), "--dtype bf16: ", no_bf16);
    BABYGPT_CHECK(s.batch_size >= world.size(), "--batch-size ", s.batch_size, " is smaller than the ", world.size(),
                  " processes sharing each batch; pass a --batch-size of at least ", world.size(),
                  " or start fewer processes");
    if (request.data_path.empty()) request.data_path = default_data_path();
    if (request.out_path.empty()) request.out_path = default_out_path(request.data_path);
    const RunPaths paths = RunPaths::for_checkpoint(request.out_path);
    std::vector<InputFile> inputs = {{"--data", request.data_path}};
    if (!request.config_path.empty()) inputs.push_back({"--config", request.config_path});
    if (resumed) inputs.push_back({"--resume", request.resume_path});
    check_outputs_are_safe(paths, inputs, request.resume_path);
    const bool in_place = resumed && same_file(paths.model, request.resume_path);
    if (world.is_root()) check_no_earlier_run(paths, request.overwrite, in_place);  // only rank 0 writes
    if (interrupted_anywhere(world)) throw Interrupted{};

    const Corpus corpus = read_corpus(request.data_path);
    if (interrupted_anywhere(world)) throw Interrupted{};
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

    // ---- the run's files: from here on this process (rank 0) writes them, and no other trainer may (the
    // lock comes before the optimizer state is loaded, which may move the resumed run's files) ----
    std::optional<OutputDirectory> directory;
    std::optional<RunLock> lock;
    if (world.is_root()) {
        directory.emplace(paths.model);
        lock.emplace(paths);
        check_no_earlier_run(paths, request.overwrite, in_place);  // again, now that no one else can write them
    }
    if (in_place && world.is_root()) {
        const auto now = read_header_metadata(request.resume_path);
        BABYGPT_CHECK(now && now->count("run_id") && now->at("run_id") == resumed->info.run_id && now->count("step") &&
                          now->at("step") == std::to_string(resumed->info.step),
                      request.resume_path, " changed while it was being loaded (another trainer saved it); run the "
                      "command again to resume from its new state");
    }

    // ---- model, optimizer and random streams (restored on resume) ----
    std::optional<Activity> activity(std::in_place, "building the model", model_size_hint);
    Generator gen(s.seed);  // initialisation, then training batches, as the reference's global generator
    babygpt::GPT<float> model(config, gen);
    model.activation_checkpointing = request.activation_checkpointing;
    babygpt::optim::AdamWOptions adamw;
    adamw.lr = s.learning_rate;
    babygpt::optim::AdamW<float> optimizer(model.parameters(), adamw);
    CheckpointInfo info;
    info.settings = s;
    info.vocabulary = corpus.vocabulary;
    info.data_path = request.data_path;
    std::vector<MetricRow> metrics;
    std::vector<BlockStatsRow> block_stats;
    if (resumed) {
        load_weights(model, *resumed, request.resume_path);
        load_optimizer(optimizer, model, RunPaths::for_checkpoint(request.resume_path), resumed->info);
        // Empty only for a checkpoint imported from PyTorch (see load_checkpoint): there is no babygpt stream
        // to continue, so the generators stay as this seed's new run has them.
        if (!resumed->info.batch_generator.empty()) gen.set_state(resumed->info.batch_generator);
        if (!resumed->info.dropout_generator.empty())
            model.dropout_generator().set_state(resumed->info.dropout_generator);
        info.step = resumed->info.step;
        info.evaluated_step = resumed->info.evaluated_step;
        info.run_id = resumed->info.run_id;
        info.imported_from = resumed->info.imported_from;
        info.train_loss = resumed->info.train_loss;
        info.val_loss = resumed->info.val_loss;
        for (const MetricRow& row : read_metrics_csv(RunPaths::for_checkpoint(request.resume_path).csv))
            if (row.step < info.step || row.step == info.evaluated_step) metrics.push_back(row);
        for (const BlockStatsRow& row : read_block_stats_csv(RunPaths::for_checkpoint(request.resume_path).stats))
            if (row.step < info.step || row.step == info.evaluated_step) block_stats.push_back(row);
    }
    broadcast_parameters(model, world);
    separate_dropout_streams(model, world);
    const bool one_machine = world.ranks_on_this_machine() == world.size();
    GradientSum gradient_sum(world, model.parameters(), request.bucket_bytes.value_or(one_machine ? 0 : std::size_t(4) << 20));
    if (interrupted_anywhere(world)) throw Interrupted{};

    const std::string processes = world.size() > 1 ? std::to_string(world.size()) + " processes x " : "";
    std::printf("babygpt: %s, %lld characters, vocabulary %lld; %.6f M parameters; preset %s; %s%d thread%s%s%s\n",
                request.data_path.c_str(), static_cast<long long>(corpus.tokens.size()),
                static_cast<long long>(corpus.vocabulary.size()), model.parameter_count() / 1e6, s.preset.c_str(),
                processes.c_str(), s.threads, s.threads == 1 ? "" : "s",
                request.dtype == "bf16" ? "; bf16 products" : "",
                resumed ? (", resuming at step " + std::to_string(info.step)).c_str() : "");
    std::fflush(stdout);

    bool saved_once = false;
    std::int64_t saved_step = -1;
    auto save = [&](std::int64_t step) {
        if (saved_step == step) return;  // an interruption right after a save needs no second one
        saved_once = true;
        saved_step = step;
        if (!world.is_root()) return;  // rank 0 writes the files
        Activity saving("saving the checkpoint", "free some memory");
        info.step = step;
        info.batch_generator = gen.state();
        info.dropout_generator = model.dropout_generator().state();
        save_checkpoint(paths, info, model, optimizer);
    };
    // Whether step k starts with an evaluation (which saves the checkpoint).
    auto evaluates = [&](std::int64_t k) { return k % s.eval_interval == 0 || k == s.max_iters - 1; };

    // ---- the training loop ----
    // --dtype bf16: the linear layers' products in bf16 for training and evaluation (bf16_products.hpp);
    // the weights, and so the checkpoints, stay float32. Sampling below is float32.
    std::optional<babygpt::Bf16ProductsGuard> bf16_products;
    if (request.dtype == "bf16") bf16_products.emplace(true);
    const double tokens_per_step = static_cast<double>(s.batch_size * s.block_size);
    const std::int64_t per_pass = sequences_per_pass(s, model.parameter_count());
    // mpirun gives its ranks a terminal of their own even when its output goes to a file: a data-parallel
    // run prints the evaluation lines only.
    StatusLine status(stdout_is_terminal() && world.size() == 1);
    EvaluationTiming evaluation_timing;
    const double elapsed_before = metrics.empty() ? 0.0 : metrics.back().elapsed;
    double training_seconds = 0, window_seconds = 0, step_seconds_total = 0, communication_seconds = 0;
    std::int64_t window_steps = 0, steps_done = 0;

    auto stop_interrupted = [&](std::int64_t step, const char* during) {
        status.clear();
        save(step);
        std::printf("interrupted at step %lld; saved %s (%s%s; resume with: babygpt train --resume %s)\n",
                    static_cast<long long>(step), paths.model.c_str(), interrupt_signal_name(), during,
                    paths.model.c_str());
        std::fflush(stdout);
        return interrupted_exit_code();
    };

    activity.emplace("training", model_size_hint);
    for (std::int64_t step = info.step; step < s.max_iters; ++step) {
        if (interrupted_anywhere(world)) return stop_interrupted(step, "");
        if (evaluates(step) && step != info.evaluated_step) {
            Activity evaluating("evaluating", model_size_hint);
            Generator eval_gen = evaluation_generator(s.seed, step);
            double train_loss = 0, val_loss = 0;
            try {
                train_loss = estimate_loss(model, split.train, s, eval_gen, step, "train", per_pass, status,
                                           evaluation_timing, world);
                val_loss = estimate_loss(model, split.val, s, eval_gen, step, "val", per_pass, status, evaluation_timing,
                                         world);
            } catch (const Interrupted&) {
                // Evaluation does not change the model: the state at this step is what there is to save.
                return stop_interrupted(step, " during the evaluation");
            }
            const double speed = window_seconds > 0 ? static_cast<double>(window_steps) * tokens_per_step / window_seconds : 0.0;
            status.clear();
            std::printf("step %lld: train loss %.4f, val loss %.4f, speed: %.2f tokens/sec\n",
                        static_cast<long long>(step), train_loss, val_loss, speed);
            std::fflush(stdout);
            if (!std::isfinite(train_loss) || !std::isfinite(val_loss))
                return report_divergence("loss", std::isnan(val_loss) || std::isnan(train_loss), step, saved_once,
                                         paths.model, world);
            info.train_loss = train_loss;
            info.val_loss = val_loss;
            info.evaluated_step = step;
            metrics.push_back({step, train_loss, val_loss, speed, elapsed_before + training_seconds});
            window_seconds = 0;
            window_steps = 0;
            save(step);
            if (world.is_root()) babygpt::io::write_file_atomically(paths.csv, metrics_csv(metrics));
            if (request.log_stats && world.is_root()) {
                // One training batch of a stream of its own: the batches of training and evaluation stay as
                // they are without --log-stats.
                Generator stats_gen = evaluation_generator(~s.seed, step);
                const auto rows = measure_block_stats(model, babygpt::data::get_batch(split.train, s.batch_size,
                                                                                      s.block_size, stats_gen), step);
                model.train();
                block_stats.insert(block_stats.end(), rows.begin(), rows.end());
                babygpt::io::write_file_atomically(paths.stats, block_stats_csv(block_stats));
            }
            if (world.is_root())
                babygpt::io::write_file_atomically(
                    paths.svg, loss_plot_svg(metrics, {std::filesystem::path(request.data_path).filename().string(),
                                                       s.preset, model.parameter_count()}));
            if (interrupted_anywhere(world)) return stop_interrupted(step, " after the evaluation");
        }

        if (steps_done == 0)  // a big model's first step can take long: say what is going on
            status.show("step " + std::to_string(step + 1) + "/" + std::to_string(s.max_iters) + ": training...", true);
        const auto start = Clock::now();
        // Every rank draws the same batch (one generator stream, as a single process does) and takes its rows.
        const babygpt::data::Batch batch = babygpt::data::get_batch(split.train, s.batch_size, s.block_size, gen);
        const RowShare mine = world.share_of(s.batch_size);
        const babygpt::Tensorf loss =
            model.loss(batch_rows(batch.x, mine.first, mine.count), batch_rows(batch.y, mine.first, mine.count));
        const float share = static_cast<float>(mine.count) / static_cast<float>(s.batch_size);
        // The batch's mean loss: the shares' sum (NaN or infinite if any rank's is, so all stop together).
        const double loss_value = world.size() == 1 ? loss.item() : world.sum(static_cast<double>(loss.item()) * share);
        if (!std::isfinite(loss_value)) {
            status.clear();
            return report_divergence("training loss", std::isnan(loss_value), step, saved_once, paths.model, world);
        }
        optimizer.zero_grad();
        gradient_sum.backward_and_sum(loss, share);
        communication_seconds += gradient_sum.last_communication_seconds();
        optimizer.step();
        const double dt = seconds_since(start);
        training_seconds += dt;
        window_seconds += dt;
        step_seconds_total += dt;
        ++window_steps;
        ++steps_done;
        if (status.enabled()) {
            // ETA: the remaining steps at the average step time, plus the remaining evaluations at the
            // measured time per evaluation batch (before the first one, a forward pass is about a third
            // of a training step).
            const double per_step = step_seconds_total / static_cast<double>(steps_done);
            const double eval_batches = static_cast<double>(evaluations_after(step, s) * 2 * s.eval_iters);
            const double eta = static_cast<double>(s.max_iters - step - 1) * per_step +
                               eval_batches * evaluation_timing.per_batch(per_step / 3);
            char line[160];
            std::snprintf(line, sizeof(line), "step %lld/%lld | loss %.4f | %.0f tokens/s | ETA %s",
                          static_cast<long long>(step + 1), static_cast<long long>(s.max_iters), loss_value,
                          window_seconds > 0 ? static_cast<double>(window_steps) * tokens_per_step / window_seconds : 0.0,
                          format_duration(eta).c_str());
            status.show(line);
        }
        // A step that evaluates saves at its start anyway (and the last step's save follows the loop).
        if (s.save_every > 0 && (step + 1) % s.save_every == 0 && step + 1 < s.max_iters && !evaluates(step + 1))
            save(step + 1);
    }
    status.clear();
    save(s.max_iters);
    std::printf("saved %s (metrics: %s, plot: %s)\n", paths.model.c_str(), paths.csv.c_str(), paths.svg.c_str());
    if (world.size() > 1 && steps_done > 0)
        std::printf("summing gradients across %d processes: %.1f ms per step (%.1f%% of the training time; %zu "
                    "all-reduce%s per step)\n", world.size(), 1e3 * communication_seconds / static_cast<double>(steps_done),
                    100.0 * communication_seconds / step_seconds_total, gradient_sum.bucket_count(),
                    gradient_sum.bucket_count() == 1 ? "" : "s");
    std::fflush(stdout);
    if (interrupted_anywhere(world)) return interrupted_exit_code();

    bf16_products.reset();
    if (request.sample_tokens > 0 && world.is_root()) {
        Activity sampling("sampling", "pass a smaller --sample-tokens (or 0)");
        model.eval();
        Generator sample_gen(s.seed);
        try {
            for (const std::string& prompt : default_prompts(corpus.vocabulary)) {
                throw_if_interrupted();
                std::printf("\n--- sample (prompt %s) ---\n", prompt == "\n" ? "a newline" : ("\"" + prompt + "\"").c_str());
                stream_sample(model, corpus.vocabulary, prompt, request.sample_tokens, babygpt::SamplingOptions{},
                              sample_gen);
            }
        } catch (const Interrupted&) {
            std::printf("interrupted (%s) while sampling; the checkpoint %s is complete\n", interrupt_signal_name(),
                        paths.model.c_str());
            std::fflush(stdout);
            return interrupted_exit_code();
        }
    }
    return 0;
}

}  // namespace

int run_train(TrainRequest request, World& world) {
    // From the start: SIGINT, SIGTERM and SIGHUP only set a flag, so that no signal ends the process in
    // the middle of writing a file; the loop saves and stops, the loading phases just stop.
    InterruptGuard interrupt_guard;
    try {
        return train(std::move(request), world);
    } catch (const Interrupted&) {
        std::printf("interrupted (%s) before training started; nothing was written\n", interrupt_signal_name());
        std::fflush(stdout);
        return interrupted_exit_code();
    }
}

}  // namespace babygpt_cli
