#pragma once
// LayerNorm(dim, eps=1e-5): normalises the last dimension, then scales and shifts (weight 1, bias 0).

#include "babygpt/nn/module.hpp"
#include "babygpt/ops/layer_norm.hpp"

namespace babygpt::nn {

template <typename T>
class LayerNorm : public Module<T> {
public:
    explicit LayerNorm(std::int64_t dim, double eps = 1e-5) : eps(eps) {
        BABYGPT_CHECK(dim > 0, "LayerNorm: dim must be positive, got ", dim);
        weight = this->register_parameter("weight", Tensor<T>::ones({dim}));
        bias = this->register_parameter("bias", Tensor<T>::zeros({dim}));
    }

    Tensor<T> forward(const Tensor<T>& x) const { return layer_norm(x, weight, bias, eps); }

    Tensor<T> weight;  // (dim)
    Tensor<T> bias;    // (dim)
    double eps;
};

}  // namespace babygpt::nn
