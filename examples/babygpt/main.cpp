// babygpt: train a character-level GPT on any UTF-8 text, sample from it, inspect checkpoints.
//
//   babygpt train --data input.txt [--preset v9|v11] [options]
//   babygpt sample runs/input.safetensors --prompt "ROMEO:"
//   babygpt info runs/input.safetensors
//   mpirun -np 4 babygpt train --data input.txt ...   (data-parallel, when built with MPI: world.hpp)

#include <cstdio>
#include <exception>
#include <optional>
#include <functional>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <babygpt/error.hpp>
#include <babygpt/version.hpp>

#include "activity.hpp"
#include "errors.hpp"
#include "input_files.hpp"
#include "sample.hpp"
#include "settings.hpp"
#include "threads_option.hpp"
#include "train.hpp"
#include "world.hpp"

namespace {

using babygpt_cli::TrainSettings;
using babygpt_cli::fail;
using babygpt_cli::max_config_bytes;
using babygpt_cli::read_small_text_file;

/// A train option that mirrors a setting: its name, and how to copy its value between settings, so that
/// explicitly given options can override a preset (or a resumed checkpoint's values).
struct SettingOption {
    std::string name;
    CLI::Option* option;
    babygpt_cli::SettingCopy copy;
};

std::vector<SettingOption> add_setting_options(CLI::App& train, TrainSettings& s) {
    std::vector<SettingOption> options;
    auto add = [&](const std::string& name, auto TrainSettings::*field, const std::string& help) {
        CLI::Option* option = train.add_option("--" + name, s.*field, help);
        option->capture_default_str();
        options.push_back({name, option, [field](TrainSettings& to, const TrainSettings& from) { to.*field = from.*field; }});
    };
    add("batch-size", &TrainSettings::batch_size, "sequences per training step");
    add("block-size", &TrainSettings::block_size, "context length in characters");
    add("n-embed", &TrainSettings::n_embed, "embedding width; must be divisible by --n-head");
    add("n-head", &TrainSettings::n_head, "attention heads per block");
    add("n-layer", &TrainSettings::n_layer, "transformer blocks");
    add("dropout", &TrainSettings::dropout, "dropout probability in training, in [0, 1)");
    add("norm", &TrainSettings::norm,
        "where the LayerNorms sit: pre (before attention and feed-forward, the reference), post (after each "
        "residual addition) or none");
    add("learning-rate", &TrainSettings::learning_rate, "AdamW learning rate");
    add("max-iters", &TrainSettings::max_iters, "total training steps (a resumed run continues up to this step)");
    add("eval-interval", &TrainSettings::eval_interval, "steps between evaluations");
    add("eval-iters", &TrainSettings::eval_iters, "batches per split in each evaluation");
    add("train-ratio", &TrainSettings::train_ratio, "fraction of the text used for training; the rest validates");
    add("seed", &TrainSettings::seed, "random seed for initialisation, batches and dropout");
    return options;
}

/// Applies the train subcommand's --config file. CLI11 reads only the main app's config file, so one set
/// on a subcommand would be accepted and silently ignored. Options given on the command line win.
/// The file is checked first (a regular file of at most 1 MiB), so that a directory, a FIFO or a
/// device is refused instead of ignored, blocking or read forever.
void apply_config_file(CLI::App& command, const std::string& path) {
    std::istringstream text(read_small_text_file(path, "--config",
                                                 "pass a TOML or INI file with --config (e.g. batch-size = 64)",
                                                 max_config_bytes));
    std::vector<CLI::ConfigItem> items;
    try {
        items = command.get_config_formatter()->from_config(text);
    } catch (const CLI::ParseError& e) {
        fail(path, ": ", e.what(), "; pass a TOML or INI file with --config");
    }
    for (const CLI::ConfigItem& item : items) {
        if (item.name == "++" || item.name == "--") continue;  // a [section] opening or closing
        const bool here = item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == command.get_name());
        CLI::Option* option = here ? command.get_option_no_throw("--" + item.name) : nullptr;
        BABYGPT_CHECK(option != nullptr && option->get_configurable(), path, ": '", item.fullname(),
                      "' is not an option a config file can set; use the long option names of 'babygpt ",
                      command.get_name(), " --help' without the dashes (e.g. batch-size = 64)");
        // CLI11 reads "name = []" as no value at all; its callbacks expect at least one.
        BABYGPT_CHECK(!item.inputs.empty(), path, ": '", item.fullname(), "' has no value; give one (e.g. ",
                      item.name, " = 64) or remove the line");
        if (option->count() > 0) continue;  // given on the command line
        option->add_result(item.inputs);
        option->run_callback();
    }
}

/// The checkpoint given as FILE or as --checkpoint FILE (either, or both if they agree).
std::string checkpoint_argument(const std::string& positional, const std::string& option, const char* command) {
    BABYGPT_CHECK(positional.empty() || option.empty() || positional == option, "two checkpoints given (", positional,
                  " and --checkpoint ", option, "); pass one: babygpt ", command, " runs/x.safetensors");
    return positional.empty() ? option : positional;
}

/// "error: out of memory allocating 268.4 MB (while building the model); try a smaller ...".
void report_out_of_memory(const std::string& what) {
    std::fflush(stdout);
    std::fprintf(stderr, "error: %s (while %s); %s\n", what.c_str(), babygpt_cli::current_activity(),
                 babygpt_cli::current_activity_hint());
}

/// "error: ..." on stderr; from a rank other than 0 of a data-parallel run, "rank N: error: ...".
void report_error(const std::string& message, const babygpt_cli::World& world) {
    std::fflush(stdout);
    if (world.is_root()) std::fprintf(stderr, "error: %s\n", message.c_str());
    else std::fprintf(stderr, "rank %d: error: %s\n", world.rank(), message.c_str());
}

int run(int argc, char** argv, babygpt_cli::World& world);

}  // namespace

int main(int argc, char** argv) {
    std::optional<babygpt_cli::World> world;
    try {
        world.emplace(argc, argv);  // before the options: MPI_Init may take its own arguments out of argv
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
    // Rank 0 speaks for a data-parallel run; the other ranks keep only their errors (stderr).
    if (!world->is_root() && !std::freopen("/dev/null", "w", stdout)) return 1;
    const int code = run(argc, argv, *world);
    // 0, a diverged loss (3) or a signal (128 + its number) end every rank at the same point: they leave
    // MPI together. Any other code is this rank's own error, and the others may be waiting for it.
    world->finish(code == 0 || code == 3 || code > 128);
    return code;
}

namespace {

int run(int argc, char** argv, babygpt_cli::World& world) {
    CLI::App app("babygpt " BABYGPT_VERSION_STRING ": train a character-level GPT on any UTF-8 text and sample from it");
    app.require_subcommand(1);
    app.set_version_flag("--version", BABYGPT_VERSION_STRING);

    // ---- train ----
    const int cores = babygpt_cli::default_threads(world.ranks_on_this_machine());
    CLI::App* train = app.add_subcommand("train", "train BabyGPT on a text file, evaluate, save a checkpoint, then sample");
    train->footer("The defaults shown for the hyperparameters are the v9 preset's; --preset v11 changes them, and an "
                  "option given on the command line or in --config overrides its preset value. SIGINT (Ctrl-C), "
                  "SIGTERM and SIGHUP save a checkpoint and exit with 130, 143 and 129.");
    babygpt_cli::TrainRequest train_request;
    TrainSettings cli_settings = babygpt_cli::preset_settings("v9");
    cli_settings.threads = cores;
    std::string preset = "v9";
    train->add_option("--data", train_request.data_path,
                      "UTF-8 text file to train on (default: the small corpus in data/default.txt)");
    train->add_option("--preset", preset, "hyperparameter preset: v9 (small, the default) or v11 (the full model)")
        ->capture_default_str();
    const std::vector<SettingOption> setting_options = add_setting_options(*train, cli_settings);
    train->add_option("--threads", cli_settings.threads, "threads for the compute, 1 to " + std::to_string(babygpt_cli::max_threads) + " (default: the cores this process may use)")->capture_default_str();
    train->add_option("--out", train_request.out_path,
                      "checkpoint file to write (default: runs/<data name>.safetensors; with --resume, that file); "
                      "the metrics, plot and optimizer state go next to it");
    train->add_flag("--overwrite", train_request.overwrite,
                    "replace the files of an earlier run at --out (otherwise refused; only on the command line)")
        ->configurable(false);
    train->add_option("--resume", train_request.resume_path,
                      "continue training from this checkpoint (its optimizer file must be next to it)");
    train->add_option("--save-every", cli_settings.save_every, "also save a checkpoint every N steps (0: only at evaluations and the end)")
        ->capture_default_str();
    train->add_option("--sample-tokens", train_request.sample_tokens, "characters to sample per prompt after training (0: none)")
        ->capture_default_str();
    double bucket_mb = 0;
    CLI::Option* bucket_option = train->add_option(
        "--bucket-mb", bucket_mb,
        "under mpirun: sum the gradients across processes in buckets of this many MB, each as soon as backward has "
        "completed it; 0: in one all-reduce after backward (default: 4 across machines, 0 on one machine)");
    train->add_flag("--log-stats", train_request.log_stats,
                    "at every evaluation, write each block's activation means and standard deviations and its "
                    "gradient norm to <out>.stats.csv");
    train->add_flag("--activation-checkpointing", train_request.activation_checkpointing,
                    "keep only each block's input for backward and compute the block again there: the same "
                    "training in a fraction of the memory, for about a third more time per step");
    train->add_option("--dtype", train_request.dtype,
                      "fp32, or bf16: the linear layers' matrix products with bf16 operands and float32 sums, faster "
                      "on CPUs with AVX512-BF16 (v11: 1.6x); weights, checkpoints and sampling stay float32")
        ->check(CLI::IsMember({"fp32", "bf16"}))
        ->capture_default_str();
    CLI::Option* train_config =
        train->add_option("--config", train_request.config_path, "TOML or INI file setting any of these options (e.g. batch-size = 64)")
            ->configurable(false);

    // ---- sample ----
    CLI::App* sample = app.add_subcommand("sample", "generate text from a checkpoint, streaming characters as they come");
    babygpt_cli::SampleRequest sample_request;
    sample_request.threads = cores;
    std::string sample_checkpoint;
    sample->add_option("checkpoint", sample_checkpoint, "checkpoint written by 'babygpt train' (or --checkpoint FILE)");
    sample->add_option("--checkpoint", sample_request.checkpoint, "checkpoint written by 'babygpt train'");
    sample->add_option("--prompt", sample_request.prompts, "text to continue; repeat for several prompts (default: a newline)")
        ->allow_extra_args(false);
    sample->add_option("--max-new-tokens", sample_request.max_new_tokens, "characters to generate per prompt")->capture_default_str();
    sample->add_option("--temperature", sample_request.temperature, "sampling temperature (> 0; lower is more conservative)")
        ->capture_default_str();
    sample->add_option("--top-k", sample_request.top_k, "sample only from the k most likely characters (0: all)")->capture_default_str();
    sample->add_option("--seed", sample_request.seed, "random seed for sampling")->capture_default_str();
    sample->add_option("--threads", sample_request.threads, "threads for the compute, 1 to " + std::to_string(babygpt_cli::max_threads) + " (default: the cores this process may use)")->capture_default_str();

    // ---- info ----
    CLI::App* info = app.add_subcommand("info", "show a checkpoint's configuration, vocabulary, step, parameters and losses");
    std::string info_checkpoint, info_checkpoint_option;
    info->add_option("checkpoint", info_checkpoint, "checkpoint written by 'babygpt train' (or --checkpoint FILE)");
    info->add_option("--checkpoint", info_checkpoint_option, "checkpoint written by 'babygpt train'");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }

    try {
        if (*train) {
            if (train_config->count() > 0) apply_config_file(*train, train_request.config_path);
            // Precedence: preset < checkpoint (on resume) < options given on the command line or in --config.
            TrainSettings settings = babygpt_cli::preset_settings(preset);
            const TrainSettings given = cli_settings;
            for (const SettingOption& s : setting_options)
                if (s.option->count() > 0) {
                    train_request.explicit_options.emplace(s.name, s.copy);
                    s.copy(settings, given);
                }
            settings.threads = given.threads;
            settings.save_every = given.save_every;
            BABYGPT_CHECK(train_request.sample_tokens >= 0, "--sample-tokens must be >= 0, got ",
                          train_request.sample_tokens);
            BABYGPT_CHECK(bucket_mb >= 0 && bucket_mb <= 1e6, "--bucket-mb must be between 0 and 1000000, got ",
                          bucket_mb);
            if (bucket_option->count() > 0) train_request.bucket_bytes = static_cast<std::size_t>(bucket_mb * (1 << 20));
            train_request.settings = settings;
            return babygpt_cli::run_train(train_request, world);
        }
        BABYGPT_CHECK(world.size() == 1, "only 'babygpt train' runs as several processes (mpirun -np ", world.size(),
                      "); run 'babygpt ", *sample ? "sample" : "info", "' without mpirun");
        if (*sample) {
            sample_request.checkpoint = checkpoint_argument(sample_checkpoint, sample_request.checkpoint, "sample");
            return babygpt_cli::run_sample(sample_request);
        }
        if (*info) return babygpt_cli::run_info(checkpoint_argument(info_checkpoint, info_checkpoint_option, "info"));
    } catch (const std::bad_alloc&) {
        report_out_of_memory("out of memory");
        return 1;
    } catch (const std::exception& e) {  // babygpt::Error too: it derives from std::invalid_argument
        const std::string message = e.what();
        // The library reports a failed allocation as an Error ("out of memory allocating 268.4 MB ...;
        // <its hint>"): keep what it names, and add what the program was doing and the option to change.
        if (message.find("out of memory") != std::string::npos) {
            report_out_of_memory(message.substr(0, message.find(';')));
            return 1;
        }
        report_error(message, world);
        return 1;
    }
    return 0;
}

}  // namespace
