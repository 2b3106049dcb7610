#pragma once
// Activation layers without parameters, so they can sit in a Sequential: ReLU and GELU.

#include "babygpt/nn/module.hpp"
#include "babygpt/ops/activation.hpp"

namespace babygpt::nn {

template <typename T>
class ReLU : public Module<T> {
public:
    Tensor<T> forward(const Tensor<T>& x) const { return relu(x); }
};

template <typename T>
class GELU : public Module<T> {
public:
    Tensor<T> forward(const Tensor<T>& x) const { return gelu(x); }
};

}  // namespace babygpt::nn
