#pragma once
// Linear(in, out, bias): y = x W^T + b, W (out, in) as PyTorch stores it.
// Initialised as PyTorch's default: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).

#include <cmath>

#include "babygpt/nn/module.hpp"
#include "babygpt/ops/linear.hpp"

namespace babygpt::nn {

/// A fully connected layer.
///
///     babygpt::Generator gen(42);
///     babygpt::nn::Linear<float> fc(32, 128, /*bias=*/true, gen);
///     Tensorf y = fc.forward(x);  // (B, T, 32) -> (B, T, 128)
template <typename T>
class Linear : public Module<T> {
public:
    Linear(std::int64_t in_features, std::int64_t out_features, bool bias, Generator& gen) {
        BABYGPT_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in_features=",
                      in_features, ", out_features=", out_features);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
        weight = this->register_parameter("weight", Tensor<T>::rand({out_features, in_features}, gen, -bound, bound));
        if (bias) this->bias = this->register_parameter("bias", Tensor<T>::rand({out_features}, gen, -bound, bound));
    }

    Tensor<T> forward(const Tensor<T>& x) const { return linear(x, weight, bias); }

    Tensor<T> weight;  // (out, in)
    Tensor<T> bias;    // (out), undefined without bias
};

}  // namespace babygpt::nn
