#include "run_files.hpp"

#include <filesystem>
#include <optional>
#include <random>
#include <sstream>

#include <babygpt/data/utf8.hpp>
#include <babygpt/io/checkpoint.hpp>
#include <babygpt/io/state_dict.hpp>

#include "checkpoint_header.hpp"
#include "errors.hpp"

namespace babygpt_cli {

namespace st = babygpt::safetensors;
using Metadata = std::map<std::string, std::string>;

namespace {

constexpr const char* format_name = "babygpt-checkpoint";
constexpr const char* format_version = "1";

std::string exact(double value) {
    std::ostringstream out;
    out.precision(17);
    out << value;
    return out.str();
}

std::string new_run_id() {
    std::random_device device;
    std::ostringstream out;
    out << std::hex << device() << device();
    return out.str();
}

const std::string& field(const Metadata& m, const std::string& key, const std::string& source) {
    auto it = m.find(key);
    BABYGPT_CHECK(it != m.end(), source, ": not a babygpt training checkpoint (its metadata has no '", key,
                  "'); use a file written by 'babygpt train'");
    return it->second;
}

std::int64_t integer(const Metadata& m, const std::string& key, const std::string& source) {
    return babygpt::io::parse_metadata_integer(field(m, key, source), key, source);
}

std::uint64_t unsigned_integer(const Metadata& m, const std::string& key, const std::string& source) {
    return babygpt::io::parse_metadata_unsigned(field(m, key, source), key, source);
}

double real(const Metadata& m, const std::string& key, const std::string& source) {
    return babygpt::io::parse_metadata_real(field(m, key, source), key, source);
}

}  // namespace

void save_checkpoint(const RunPaths& paths, const CheckpointInfo& info, const babygpt::GPT<float>& model,
                     const babygpt::optim::AdamW<float>& optimizer) {
    const std::filesystem::path dir = std::filesystem::path(paths.model).parent_path();
    if (!dir.empty()) {
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        BABYGPT_CHECK(!ec, dir.string(), ": cannot create the output directory: ", ec.message());
    }
    const std::string run_id = info.run_id.empty() ? new_run_id() : info.run_id;
    const TrainSettings& s = info.settings;

    // The two files cannot be replaced in one step: until the new model file is in place, the optimizer
    // file of the model file on disk is kept as <optimizer>.prev, so a crash in between leaves a pair
    // that load_optimizer() still finds.
    const std::string previous_optimizer = paths.optimizer + ".prev";
    std::error_code kept;
    std::filesystem::rename(paths.optimizer, previous_optimizer, kept);  // fails (harmlessly) on the first save
    st::Contents optim = babygpt::io::adamw_state_dict(optimizer, model);
    optim.metadata = {{"format", "babygpt-optimizer"}, {"run_id", run_id}, {"step", std::to_string(info.step)}};
    st::save(paths.optimizer, optim);

    Metadata m = babygpt::io::config_metadata(model.config);
    m.insert({{"format", format_name},
              {"format_version", format_version},
              {"vocab", babygpt::data::encode_utf8(info.vocabulary.chars())},
              {"step", std::to_string(info.step)},
              {"evaluated_step", std::to_string(info.evaluated_step)},
              {"run_id", run_id},
              {"data", info.data_path},
              {"train_loss", exact(info.train_loss)},
              {"val_loss", exact(info.val_loss)},
              {"generator.batches", info.batch_generator},
              {"generator.dropout", info.dropout_generator},
              {"train.preset", s.preset},
              {"train.batch_size", std::to_string(s.batch_size)},
              {"train.learning_rate", exact(s.learning_rate)},
              {"train.max_iters", std::to_string(s.max_iters)},
              {"train.eval_interval", std::to_string(s.eval_interval)},
              {"train.eval_iters", std::to_string(s.eval_iters)},
              {"train.train_ratio", exact(s.train_ratio)},
              {"train.seed", std::to_string(s.seed)}});
    if (!info.imported_from.empty()) m.insert({"imported_from", info.imported_from});
    babygpt::io::save_state_dict(paths.model, model, m);
    std::error_code ignored;
    std::filesystem::remove(previous_optimizer, ignored);
}

LoadedCheckpoint load_checkpoint(const std::string& path, const char* option) {
    check_checkpoint_file(path, option);
    LoadedCheckpoint loaded;
    loaded.contents = st::load(path);
    const Metadata& m = loaded.contents.metadata;
    BABYGPT_CHECK(field(m, "format", path) == format_name, path, ": not a babygpt training checkpoint");
    // The configuration, checked against the tensors the file declares before any model is built from it.
    const babygpt::GPTConfig config = babygpt::io::config_from_checkpoint(loaded.contents, path);
    CheckpointInfo& info = loaded.info;
    const std::vector<char32_t> chars = babygpt::data::decode_utf8(field(m, "vocab", path), path + " (vocab)");
    try {
        info.vocabulary = babygpt::data::Vocabulary(chars);
    } catch (const babygpt::Error& e) {
        fail(path, ": the stored vocabulary is corrupt: ", e.what());
    }
    BABYGPT_CHECK(info.vocabulary.size() == config.vocab_size, path, ": the vocabulary has ", info.vocabulary.size(),
                  " characters but vocab_size is ", config.vocab_size);
    TrainSettings& s = info.settings;
    s.block_size = config.block_size;
    s.n_embed = config.n_embed;
    s.n_head = config.n_head;
    s.n_layer = config.n_layer;
    s.dropout = config.dropout;
    s.norm = babygpt::norm_placement_name(config.norm);
    s.preset = field(m, "train.preset", path);
    s.batch_size = integer(m, "train.batch_size", path);
    s.learning_rate = real(m, "train.learning_rate", path);
    s.max_iters = integer(m, "train.max_iters", path);
    s.eval_interval = integer(m, "train.eval_interval", path);
    s.eval_iters = integer(m, "train.eval_iters", path);
    s.train_ratio = real(m, "train.train_ratio", path);
    s.seed = unsigned_integer(m, "train.seed", path);
    info.data_path = field(m, "data", path);
    info.step = integer(m, "step", path);
    info.evaluated_step = integer(m, "evaluated_step", path);
    // A checkpoint imported from PyTorch (tools/import_pytorch.py, "imported_from") has no babygpt random
    // streams to continue, so it may leave the generator fields out: they are read as empty, and a resumed
    // run starts its streams as a new run with the seed would. In any other file they are required.
    const bool imported = m.count("imported_from") > 0;
    if (imported) info.imported_from = m.at("imported_from");
    auto generator = [&](const char* key) {
        if (imported && m.count(key) == 0) return std::string();
        const std::string& state = field(m, key, path);
        BABYGPT_CHECK(!state.empty(), path, ": metadata '", key, "' is empty; the checkpoint is corrupt (use a "
                      "file written by 'babygpt train')");
        return state;
    };
    info.batch_generator = generator("generator.batches");
    info.dropout_generator = generator("generator.dropout");
    info.run_id = field(m, "run_id", path);
    info.train_loss = real(m, "train_loss", path);
    info.val_loss = real(m, "val_loss", path);
    BABYGPT_CHECK(info.step >= 0, path, ": negative step ", info.step);
    return loaded;
}

void load_weights(babygpt::GPT<float>& model, const LoadedCheckpoint& checkpoint, const std::string& path) {
    babygpt::io::load_state_dict(model, checkpoint.contents, path);
}

void load_optimizer(babygpt::optim::AdamW<float>& optimizer, const babygpt::GPT<float>& model, const RunPaths& paths,
                    const CheckpointInfo& info) {
    auto belongs = [&](const st::Contents& optim) {
        auto id = optim.metadata.find("run_id");
        auto step = optim.metadata.find("step");
        return id != optim.metadata.end() && id->second == info.run_id && step != optim.metadata.end() &&
               step->second == std::to_string(info.step);
    };
    std::optional<st::Contents> optim;
    if (std::filesystem::exists(paths.optimizer)) {
        check_checkpoint_file(paths.optimizer, "--resume (its optimizer file)");
        optim = st::load(paths.optimizer);
    }
    // A crash while saving can leave this checkpoint's optimizer state in <optimizer>.prev (see
    // save_checkpoint); put it back in place, so that the next save keeps it until the pair is complete.
    const std::string previous = paths.optimizer + ".prev";
    if ((!optim || !belongs(*optim)) && std::filesystem::exists(previous)) {
        check_checkpoint_file(previous, "--resume (its optimizer file)");
        st::Contents kept = st::load(previous);
        if (belongs(kept)) {
            std::error_code ignored;
            std::filesystem::rename(previous, paths.optimizer, ignored);
            optim = std::move(kept);
        }
    }
    BABYGPT_CHECK(optim.has_value(), paths.optimizer,
                  ": the optimizer state of this checkpoint is missing; it is written next to the checkpoint and "
                  "is needed to resume");
    BABYGPT_CHECK(belongs(*optim), paths.optimizer, ": this optimizer state does not belong to ", paths.model,
                  " (different run or step); the pair was not written together");
    babygpt::io::load_adamw_state_dict(optimizer, model, *optim, paths.optimizer);
}

}  // namespace babygpt_cli
