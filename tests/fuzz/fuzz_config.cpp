// libFuzzer target: a --config file as the trainer reads one. CLI11's TOML/INI reader parses the bytes,
// and each item is applied to a small CLI::App with options of the trainer's kinds (integers, a real,
// an unsigned seed, strings, a vector), the way the trainer's apply_config_file does. Refusals are
// CLI::Error or babygpt::Error; anything else escaping, or a crash, is a bug.

#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "babygpt/error.hpp"

namespace {

void apply_items(CLI::App& command, const std::vector<CLI::ConfigItem>& items) {
    for (const CLI::ConfigItem& item : items) {
        if (item.name == "++" || item.name == "--") continue;  // a [section] opening or closing
        const bool here = item.parents.empty() || (item.parents.size() == 1 && item.parents[0] == command.get_name());
        CLI::Option* option = here ? command.get_option_no_throw("--" + item.name) : nullptr;
        BABYGPT_CHECK(option != nullptr && option->get_configurable(), "fuzz.toml: '", item.fullname(),
                      "' is not an option a config file can set");
        // As the trainer: CLI11 reads "name = []" as no value, which its callbacks cannot take.
        BABYGPT_CHECK(!item.inputs.empty(), "fuzz.toml: '", item.fullname(), "' has no value");
        if (option->count() > 0) continue;
        option->add_result(item.inputs);
        option->run_callback();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    CLI::App app("fuzz");
    CLI::App* train = app.add_subcommand("train", "train");
    std::int64_t batch_size = 16, block_size = 32, n_layer = 3;
    double dropout = 0.0, learning_rate = 1e-3;
    std::uint64_t seed = 1337;
    std::string data_path, preset = "v9";
    std::vector<std::string> prompts;
    bool verbose = false;
    train->add_option("--batch-size", batch_size)->capture_default_str();
    train->add_option("--block-size", block_size)->capture_default_str();
    train->add_option("--n-layer", n_layer);
    train->add_option("--dropout", dropout);
    train->add_option("--learning-rate", learning_rate);
    train->add_option("--seed", seed);
    train->add_option("--data", data_path);
    train->add_option("--preset", preset);
    train->add_option("--prompt", prompts);
    train->add_flag("--verbose", verbose);
    train->set_config("--config");
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        std::istringstream in(text);
        apply_items(*train, train->get_config_formatter()->from_config(in));
    } catch (const CLI::Error&) {
    } catch (const babygpt::Error&) {
    }
    // The same bytes as the main app's own config file, parsed by CLI11 itself.
    try {
        std::istringstream in(text);
        CLI::ConfigTOML toml;
        (void)toml.from_config(in);
        CLI::ConfigINI ini;
        std::istringstream again(text);
        (void)ini.from_config(again);
    } catch (const CLI::Error&) {
    }
    return 0;
}
