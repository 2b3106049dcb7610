#pragma once
// Module: the base of every layer. It knows its parameters, buffers and submodules by name, so that
// named_parameters() yields PyTorch's dotted state_dict names ("blocks.0.sa.proj.weight").
//
//     class Affine : public babygpt::nn::Module<float> {
//     public:
//         Affine() { scale = register_parameter("scale", babygpt::Tensorf::ones({4})); }
//         babygpt::Tensorf scale;
//     };
//     Affine affine;
//     auto named = affine.named_parameters();  // one entry: "scale" and the tensor
//
// Submodules are plain members registered by reference, so a Module can be neither copied nor moved
// (the registry holds pointers to its members); create models in place or behind a pointer.
// Each layer has its own forward() with the arguments it needs; there is no virtual forward.

#include <string>
#include <utility>
#include <vector>

#include "babygpt/tensor.hpp"

namespace babygpt::nn {

template <typename T>
class Module {
public:
    using NamedTensors = std::vector<std::pair<std::string, Tensor<T>>>;

    Module() = default;
    virtual ~Module() = default;
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    /// Every parameter of this module and its submodules, in registration order, with dotted names.
    NamedTensors named_parameters() const {
        NamedTensors out;
        collect(out, "", /*buffers=*/false);
        return out;
    }
    std::vector<Tensor<T>> parameters() const {
        std::vector<Tensor<T>> out;
        for (auto& [name, p] : named_parameters()) out.push_back(p);
        return out;
    }
    /// Non-trainable state that belongs in a state_dict (e.g. the attention heads' `tril` masks).
    NamedTensors named_buffers() const {
        NamedTensors out;
        collect(out, "", /*buffers=*/true);
        return out;
    }
    /// Total number of scalar parameters.
    std::int64_t parameter_count() const {
        std::int64_t n = 0;
        for (auto& [name, p] : named_parameters()) n += p.numel();
        return n;
    }

    void zero_grad() const {
        for (auto& [name, p] : named_parameters()) p.zero_grad();
    }

    /// Training mode (dropout active) or evaluation mode, for this module and all submodules.
    void train(bool on = true) {
        training_ = on;
        for (auto& [name, child] : children_) child->train(on);
    }
    void eval() { train(false); }
    bool is_training() const { return training_; }

protected:
    /// Registers a trainable tensor (marks it requires_grad) and returns it for assignment to a member.
    Tensor<T> register_parameter(std::string name, Tensor<T> tensor) {
        tensor.requires_grad_(true);
        parameters_.emplace_back(std::move(name), tensor);
        return tensor;
    }
    Tensor<T> register_buffer(std::string name, Tensor<T> tensor) {
        buffers_.emplace_back(std::move(name), tensor);
        return tensor;
    }
    /// Registers a member submodule under `name`; its parameters appear as "name.<theirs>".
    template <typename M>
    M& register_module(std::string name, M& module) {
        children_.emplace_back(std::move(name), &module);
        return module;
    }

private:
    void collect(NamedTensors& out, const std::string& prefix, bool buffers) const {
        for (auto& [name, t] : buffers ? buffers_ : parameters_) out.emplace_back(prefix + name, t);
        for (auto& [name, child] : children_) child->collect(out, prefix + name + ".", buffers);
    }

    NamedTensors parameters_;
    NamedTensors buffers_;
    std::vector<std::pair<std::string, Module*>> children_;
    bool training_ = true;
};

}  // namespace babygpt::nn
