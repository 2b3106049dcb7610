#pragma once
// Checkpoint pieces for BabyGPT: the model configuration as safetensors metadata, and the AdamW state
// as a safetensors file of its own (a sibling of the model file, so that the model file stays exactly
// the reference state_dict that PyTorch loads with strict=True).

#include <cstdint>
#include <map>
#include <string>

#include "babygpt/io/safetensors.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/optim/adamw.hpp"

namespace babygpt::io {

/// The configuration as metadata strings, under the names PyTorch users know.
inline std::map<std::string, std::string> config_metadata(const GPTConfig& config) {
    std::ostringstream dropout;
    dropout.precision(17);
    dropout << config.dropout;
    return {{"vocab_size", std::to_string(config.vocab_size)}, {"block_size", std::to_string(config.block_size)},
            {"n_embed", std::to_string(config.n_embed)},       {"n_head", std::to_string(config.n_head)},
            {"n_layer", std::to_string(config.n_layer)},       {"dropout", dropout.str()}};
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
    BABYGPT_CHECK(used == text.size() && !text.empty(), source, ": metadata '", key, "' = '", text, "' is not ",
                  kind);
    return value;
}

inline std::int64_t parse_integer(const std::string& text, const std::string& key, const std::string& source) {
    return parse_number<std::int64_t>(
        text, key, source, [](const std::string& t, std::size_t* used) { return std::stoll(t, used); },
        "an integer");
}

/// As parse_integer, for the whole range of std::uint64_t; a minus sign is refused (std::stoull would
/// wrap "-1" around to the largest value).
inline std::uint64_t parse_unsigned(const std::string& text, const std::string& key, const std::string& source) {
    return parse_number<std::uint64_t>(
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

inline double parse_real(const std::string& text, const std::string& key, const std::string& source) {
    return parse_number<double>(
        text, key, source, [](const std::string& t, std::size_t* used) { return std::stod(t, used); },
        "a number");
}

}  // namespace detail

/// Reads and validates the configuration written by config_metadata().
inline GPTConfig config_from_metadata(const std::map<std::string, std::string>& metadata, const std::string& source) {
    auto integer = [&](const char* key) {
        return detail::parse_integer(detail::metadata_field(metadata, key, source), key, source);
    };
    GPTConfig config;
    config.vocab_size = integer("vocab_size");
    config.block_size = integer("block_size");
    config.n_embed = integer("n_embed");
    config.n_head = integer("n_head");
    config.n_layer = integer("n_layer");
    auto it = metadata.find("dropout");
    config.dropout = it == metadata.end() ? 0.0 : detail::parse_real(it->second, "dropout", source);
    try {
        config.validate();
    } catch (const Error& e) {
        babygpt::detail::throw_error(source, ": invalid configuration in the metadata: ", e.what());
    }
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
