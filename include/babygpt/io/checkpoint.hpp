#pragma once
// Checkpoint pieces for BabyGPT: the model configuration as safetensors metadata, and the AdamW state
// as a safetensors file of its own (a sibling of the model file, so that the model file stays exactly
// the reference state_dict that PyTorch loads with strict=True).
//
// Loading a model from a file that may be hostile, without trusting it with memory:
//
//     babygpt::Generator gen(42);
//     GPTConfig trained;  trained.vocab_size = 65;                         // a file the trainer wrote:
//     babygpt::io::save_state_dict("model.safetensors", GPT<float>(trained, gen), babygpt::io::config_metadata(trained));
//
//     std::string path = "model.safetensors";
//     auto contents = babygpt::safetensors::load(path);                    // bounded by the file's size
//     GPTConfig config = babygpt::io::config_from_checkpoint(contents, path);  // metadata + tensors agree
//     GPT<float> model(config, gen);                                       // no bigger than the file
//     babygpt::io::load_state_dict(model, contents, path);

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "babygpt/io/safetensors.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/optim/adamw.hpp"

namespace babygpt::io {

/// The configuration as metadata strings, under the names PyTorch users know (norm: pre, post or none).
inline std::map<std::string, std::string> config_metadata(const GPTConfig& config) {
    std::ostringstream dropout;
    dropout.precision(17);
    dropout << config.dropout;
    return {{"vocab_size", std::to_string(config.vocab_size)}, {"block_size", std::to_string(config.block_size)},
            {"n_embed", std::to_string(config.n_embed)},       {"n_head", std::to_string(config.n_head)},
            {"n_layer", std::to_string(config.n_layer)},       {"dropout", dropout.str()},
            {"norm", norm_placement_name(config.norm)}};
}

namespace detail {

inline const std::string& metadata_field(const std::map<std::string, std::string>& metadata, const std::string& key,
                                         const std::string& source) {
    auto it = metadata.find(key);
    BABYGPT_CHECK(it != metadata.end(), source, ": the metadata has no '", key,
                  "' (is this a babygpt checkpoint?)");
    return it->second;
}

/// `text` read by `parse`, called as parse(text, &characters_used) and throwing on failure as std::stoll
/// and std::stod do. If it throws or leaves characters over, throws "<source>: metadata '<key>' = '<text>'
/// is not <kind>".
template <typename V, typename Parse>
V parse_number(const std::string& text, const std::string& key, const std::string& source, Parse parse,
               const char* kind) {
    std::size_t used = 0;
    V value = 0;
    try {
        value = parse(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    BABYGPT_CHECK(used == text.size() && !text.empty(), source, ": metadata '", key, "' = '",
                  safetensors::detail::printable(text, true, 40), "' is not ", kind);
    return value;
}

}  // namespace detail

// ---- metadata values --------------------------------------------------------------------------------
// Metadata values are strings. These read one whole value, the value of `key` in the file `source`, and
// throw babygpt::Error "<source>: metadata '<key>' = '<text>' is not <an integer | ...>" if any character
// is left over, the text is empty or the value is out of range. config_from_metadata() reads the
// configuration with them; a program that stores values of its own in the metadata reads them back so.

/// A std::int64_t, as std::stoll reads it: "-42" but not "12x", "" or "9223372036854775808".
///
///     std::int64_t step = babygpt::io::parse_metadata_integer("5000", "step", "model.safetensors");
inline std::int64_t parse_metadata_integer(const std::string& text, const std::string& key,
                                           const std::string& source) {
    return detail::parse_number<std::int64_t>(
        text, key, source, [](const std::string& t, std::size_t* used) { return std::stoll(t, used); },
        "an integer");
}

/// A std::uint64_t over its whole range (a seed, say); a minus sign is refused (std::stoull would wrap
/// "-1" around to the largest value).
///
///     std::uint64_t seed = babygpt::io::parse_metadata_unsigned("18446744073709551615", "seed", "model.safetensors");
inline std::uint64_t parse_metadata_unsigned(const std::string& text, const std::string& key,
                                             const std::string& source) {
    return detail::parse_number<std::uint64_t>(
        text, key, source,
        [](const std::string& t, std::size_t* used) {
            if (t.find('-') != std::string::npos) {
                *used = 0;
                return 0ULL;
            }
            return std::stoull(t, used);
        },
        "a non-negative integer");
}

/// A double, as std::stod reads it: "0.25", "1e-3", "inf" but not "0.25x" or "".
///
///     double dropout = babygpt::io::parse_metadata_real("0.2", "dropout", "model.safetensors");
inline double parse_metadata_real(const std::string& text, const std::string& key, const std::string& source) {
    return detail::parse_number<double>(
        text, key, source, [](const std::string& t, std::size_t* used) { return std::stod(t, used); },
        "a number");
}

/// Reads and validates the configuration written by config_metadata().
inline GPTConfig config_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& source) {
    auto integer = [&](const char* key) {
        return parse_metadata_integer(detail::metadata_field(metadata, key, source), key, source);
    };
    GPTConfig config;
    config.vocab_size = integer("vocab_size");
    config.block_size = integer("block_size");
    config.n_embed = integer("n_embed");
    config.n_head = integer("n_head");
    config.n_layer = integer("n_layer");
    auto it = metadata.find("dropout");
    config.dropout = it == metadata.end() ? 0.0 : parse_metadata_real(it->second, "dropout", source);
    it = metadata.find("norm");  // absent in files from before the option: the reference's pre
    if (it != metadata.end()) config.norm = parse_norm_placement(it->second, source + ": metadata 'norm'");
    try {
        config.validate();
    } catch (const Error& e) {
        babygpt::detail::throw_error(source, ": invalid configuration in the metadata: ", e.what());
    }
    return config;
}

/// Calls visit(name, shape) for every tensor of GPT<T>(config)'s state_dict, in the model's registration
/// order, without building the model (the names and shapes are those of models/gpt.hpp and nn/*).
/// Stops early when visit returns false.
inline void for_each_gpt_tensor(const GPTConfig& config,
                                const std::function<bool(const std::string&, const Shape&)>& visit) {
    const std::int64_t V = config.vocab_size, T = config.block_size, C = config.n_embed, H = config.n_head;
    const std::int64_t hs = C / H;
    if (!visit("token_embedding_table.weight", {V, C}) || !visit("postion_embedding_table.weight", {T, C})) return;
    for (std::int64_t l = 0; l < config.n_layer; ++l) {
        const std::string block = "blocks." + std::to_string(l) + ".";
        for (std::int64_t h = 0; h < H; ++h) {
            const std::string head = block + "sa.heads." + std::to_string(h) + ".";
            if (!visit(head + "key.weight", {hs, C}) || !visit(head + "query.weight", {hs, C}) ||
                !visit(head + "value.weight", {hs, C}) || !visit(head + "tril", {T, T}))
                return;
        }
        if (!visit(block + "sa.proj.weight", {C, C}) || !visit(block + "sa.proj.bias", {C}) ||
            !visit(block + "ffwd.net.0.weight", {4 * C, C}) || !visit(block + "ffwd.net.0.bias", {4 * C}) ||
            !visit(block + "ffwd.net.2.weight", {C, 4 * C}) || !visit(block + "ffwd.net.2.bias", {C}))
            return;
        if (config.norm != NormPlacement::none &&
            (!visit(block + "ln1.weight", {C}) || !visit(block + "ln1.bias", {C}) ||
             !visit(block + "ln2.weight", {C}) || !visit(block + "ln2.bias", {C})))
            return;
    }
    if (config.norm == NormPlacement::pre && (!visit("ln_final.weight", {C}) || !visit("ln_final.bias", {C}))) return;
    (void)(visit("lm_head.weight", {V, C}) && visit("lm_head.bias", {V}));
}

/// Checks, before any model is built, that `contents` holds exactly the state_dict of GPT(config): every
/// tensor the configuration implies, with exactly its shape and a floating-point dtype, and no other.
/// Then building the model allocates no more than the file's own data, whatever its metadata claims.
/// The work is bounded by the file too: the expected names are generated one at a time and the scan
/// stops after a few that are missing. Throws babygpt::Error naming `source`, the tensors and the fix.
inline void check_checkpoint_matches_config(const safetensors::Contents& contents, const GPTConfig& config,
                                            const std::string& source) {
    config.validate();
    const std::string fix = "; the file does not match its own configuration (n_layer " +
                            std::to_string(config.n_layer) + ", n_head " + std::to_string(config.n_head) +
                            ", n_embed " + std::to_string(config.n_embed) + ", block_size " +
                            std::to_string(config.block_size) + ", vocab_size " + std::to_string(config.vocab_size) +
                            ", norm " + norm_placement_name(config.norm) +
                            "): it is corrupt or was not written by babygpt";
    const std::size_t shown = 8;
    detail::MessageList missing(shown), mismatched(shown);
    std::size_t found = 0, expected = 0;
    bool complete = true;
    for_each_gpt_tensor(config, [&](const std::string& name, const Shape& shape) {
        ++expected;
        const auto it = contents.tensors.find(name);
        if (it == contents.tensors.end()) {
            missing.add(name);
        } else {
            ++found;
            const safetensors::DType dtype = it->second.dtype;
            if (it->second.shape != shape)
                mismatched.add(name + " is " + to_string(it->second.shape) + " but the configuration needs " +
                               to_string(shape));
            else if (dtype != safetensors::DType::F32 && dtype != safetensors::DType::F64)
                mismatched.add(name + " has dtype " + safetensors::dtype_name(dtype) + " (expected F32 or F64)");
        }
        complete = missing.size() + mismatched.size() < shown;
        return complete;  // a file missing many tensors is refused after a few, not after all of them
    });
    BABYGPT_CHECK(mismatched.empty(), source, ": tensors do not match the configuration: ", mismatched.str(), fix);
    BABYGPT_CHECK(missing.empty(), source, ": tensors missing for the configuration: ", missing.str(),
                  complete ? "" : " (and possibly more)", fix);
    if (found == contents.tensors.size()) return;
    // Some tensors are not in the model: name them. Every expected name was found, so there are fewer
    // expected names than tensors in the file, and this set is no bigger than the file's header.
    std::set<std::string> names;
    for_each_gpt_tensor(config, [&](const std::string& name, const Shape&) { return names.insert(name).second; });
    detail::MessageList unexpected(shown);
    for (const auto& item : contents.tensors)
        if (names.count(item.first) == 0) unexpected.add(safetensors::detail::quote_name(item.first));
    babygpt::detail::throw_error(source, ": unexpected tensors (not in the model the configuration describes): ",
                                 unexpected.str(), fix);
}

/// The configuration in a checkpoint's metadata (config_from_metadata), checked against the tensors the
/// file holds (check_checkpoint_matches_config): what to call before building a GPT from a file.
inline GPTConfig config_from_checkpoint(const safetensors::Contents& contents, const std::string& source) {
    const GPTConfig config = config_from_metadata(contents.metadata, source);
    check_checkpoint_matches_config(contents, config, source);
    return config;
}

/// AdamW state as tensors named "exp_avg.<param>", "exp_avg_sq.<param>" and "steps" (one count per parameter).
template <typename T>
safetensors::Contents adamw_state_dict(const optim::AdamW<T>& optimizer, const nn::Module<T>& model) {
    const auto named = model.named_parameters();
    const auto& state = optimizer.state();
    BABYGPT_CHECK(state.steps.size() == named.size(), "adamw_state_dict: the optimizer has ", state.steps.size(),
                  " parameters, the model ", named.size());
    safetensors::Contents contents;
    for (std::size_t i = 0; i < named.size(); ++i) {
        contents.tensors["exp_avg." + named[i].first] = safetensors::from_tensor(state.exp_avg[i]);
        contents.tensors["exp_avg_sq." + named[i].first] = safetensors::from_tensor(state.exp_avg_sq[i]);
    }
    const auto count = static_cast<std::int64_t>(named.size());
    contents.tensors["steps"] = safetensors::from_tensor(IndexTensor::from_data({count}, state.steps));
    return contents;
}

/// Restores what adamw_state_dict() wrote; every tensor must be there with the parameter's shape.
template <typename T>
void load_adamw_state_dict(optim::AdamW<T>& optimizer, const nn::Module<T>& model,
                           const safetensors::Contents& contents, const std::string& source) {
    const auto named = model.named_parameters();
    optim::AdamWState<T> state;
    auto fetch = [&](const std::string& key, const Shape& shape) {
        auto it = contents.tensors.find(key);
        BABYGPT_CHECK(it != contents.tensors.end(), source, ": the optimizer state has no '", key, "'");
        BABYGPT_CHECK(it->second.shape == shape, source, ": optimizer tensor '", key, "' is ",
                      to_string(it->second.shape), " but the parameter is ", to_string(shape));
        return safetensors::to_tensor<T>(it->second, key);
    };
    for (const auto& [name, p] : named) {
        state.exp_avg.push_back(fetch("exp_avg." + name, p.shape()));
        state.exp_avg_sq.push_back(fetch("exp_avg_sq." + name, p.shape()));
    }
    auto it = contents.tensors.find("steps");
    BABYGPT_CHECK(it != contents.tensors.end() && it->second.shape == Shape{static_cast<std::int64_t>(named.size())},
                  source, ": the optimizer state needs 'steps' of shape (", named.size(), ",)");
    state.steps = safetensors::to_tensor<std::int64_t>(it->second, "steps").to_vector();
    optimizer.load_state(state);
}

}  // namespace babygpt::io
