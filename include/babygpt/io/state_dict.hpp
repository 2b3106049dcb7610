#pragma once
// state_dict: a module's parameters and buffers by their dotted names, to and from safetensors.
//
// The names are PyTorch's, so a BabyGPT exported here loads into the reference PyTorch model with
// load_state_dict(strict=True), and a file saved from PyTorch loads here. Loading is strict too:
// a missing tensor, an unexpected one, or a shape that differs is an error naming all of them and
// the file.
//
//     babygpt::nn::Linear<float> model(4, 2);
//     babygpt::io::save(model, "linear.safetensors");  // as torch::save(model, path)
//     babygpt::io::load(model, "linear.safetensors");  // as torch::load(model, path)
//
// With metadata, or from contents already read:
//
//     babygpt::nn::Linear<float> model(4, 2);
//     babygpt::io::save_state_dict("linear.safetensors", model, {{"in_features", "4"}});
//     babygpt::io::load_state_dict(model, "linear.safetensors");
//     auto file = babygpt::safetensors::load("linear.safetensors");
//     std::string in_features = file.metadata.at("in_features");  // "4"
//     babygpt::io::load_state_dict(model, file, "linear.safetensors");  // the name is for error messages

#include <map>
#include <set>
#include <string>

#include "babygpt/io/safetensors.hpp"
#include "babygpt/nn/module.hpp"

namespace babygpt::io {

/// Parameters and buffers of `module` as safetensors entries (F32 for float, F64 for double).
template <typename T>
safetensors::Contents state_dict(const nn::Module<T>& module) {
    safetensors::Contents contents;
    for (const auto& [name, tensor] : module.named_parameters()) contents.tensors[name] = safetensors::from_tensor(tensor);
    for (const auto& [name, tensor] : module.named_buffers()) contents.tensors[name] = safetensors::from_tensor(tensor);
    return contents;
}

namespace detail {

/// A list of items for a one-line message: the first `shown` in full, then "... (N in all)", so a file
/// with a million unexpected tensors still gives a short message.
class MessageList {
public:
    explicit MessageList(std::size_t shown = 8) : shown_(shown) {}
    void add(const std::string& item) {
        if (count_++ < shown_) text_ += (text_.empty() ? "" : ", ") + item;
    }
    bool empty() const { return count_ == 0; }
    std::size_t size() const { return count_; }
    std::string str() const {
        return count_ <= shown_ ? text_ : text_ + ", ... (" + std::to_string(count_) + " in all)";
    }

private:
    std::size_t shown_;
    std::size_t count_ = 0;
    std::string text_;
};

}  // namespace detail

/// Copies every parameter and buffer of `module` from `contents` (converting F32/F64 as needed).
/// Tensors in `contents` whose names start with one of `ignored_prefixes` are skipped; any other
/// unexpected, missing or mis-shaped tensor is an error, checked before anything is copied.
template <typename T>
void load_state_dict(const nn::Module<T>& module, const safetensors::Contents& contents, const std::string& source,
                     const std::vector<std::string>& ignored_prefixes = {}) {
    std::map<std::string, Tensor<T>> expected;
    for (const auto& [name, tensor] : module.named_parameters()) expected.emplace(name, tensor);
    for (const auto& [name, tensor] : module.named_buffers()) expected.emplace(name, tensor);

    detail::MessageList missing, unexpected, mismatched;
    for (const auto& [name, tensor] : expected) {
        auto it = contents.tensors.find(name);
        if (it == contents.tensors.end()) missing.add(name);
        else if (it->second.shape != tensor.shape())
            mismatched.add(name + " is " + to_string(it->second.shape) + " in the file but " +
                           to_string(tensor.shape()) + " in the model");
    }
    for (const auto& [name, entry] : contents.tensors) {
        bool ignored = false;
        for (const std::string& prefix : ignored_prefixes) ignored = ignored || name.rfind(prefix, 0) == 0;
        if (!ignored && expected.count(name) == 0) unexpected.add(safetensors::detail::printable(name, true, 64));
    }
    BABYGPT_CHECK(mismatched.empty(), source, ": tensor shapes do not match the model: ", mismatched.str(),
                  " (was the file saved from a model with another configuration or vocabulary?)");
    BABYGPT_CHECK(missing.empty(), source, ": tensors missing for the model: ", missing.str());
    BABYGPT_CHECK(unexpected.empty(), source, ": unexpected tensors (not in the model): ", unexpected.str());
    for (const auto& [name, tensor] : expected) tensor.copy_(safetensors::to_tensor<T>(contents.tensors.at(name), name));
}

/// Writes the module's state_dict (and string metadata) atomically to `path`.
template <typename T>
void save_state_dict(const std::string& path, const nn::Module<T>& module,
                     const std::map<std::string, std::string>& metadata = {}) {
    safetensors::Contents contents = state_dict(module);
    contents.metadata = metadata;
    safetensors::save(path, contents);
}

/// Reads the safetensors file at `path` and loads it into the module as load_state_dict above does:
/// every tensor checked (names and shapes) before any is copied, errors naming the file.
template <typename T>
void load_state_dict(const nn::Module<T>& module, const std::string& path) {
    load_state_dict(module, safetensors::load(path), path);
}

/// Writes the module's parameters and buffers to `path` (atomically), as torch::save(module, path).
template <typename T>
void save(const nn::Module<T>& module, const std::string& path) {
    save_state_dict(path, module);
}

/// Loads parameters and buffers saved by save() (or by PyTorch, under the same names) into the
/// module, as torch::load(module, path): strict, every name and shape checked first.
template <typename T>
void load(const nn::Module<T>& module, const std::string& path) {
    load_state_dict(module, path);
}

}  // namespace babygpt::io
