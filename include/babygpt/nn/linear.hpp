#pragma once
// Linear(in, out, bias): y = x W^T + b, W (out, in) as PyTorch stores it.
// Initialised as PyTorch's default: W and b ~ U(-1/sqrt(in), 1/sqrt(in)).

#include <cmath>

#include "babygpt/nn/module.hpp"
#include "babygpt/ops/linear.hpp"

namespace babygpt::nn {

/// A fully connected layer. With no Generator it draws its weights from babygpt::default_generator()
/// (see babygpt::manual_seed), as PyTorch's modules do.
///
///     babygpt::nn::Linear<float> fc(32, 128);  // with a bias, as torch.nn.Linear(32, 128)
///     babygpt::Generator gen(42);
///     babygpt::nn::Linear<float> proj(128, 32, /*bias=*/false, gen);
///     babygpt::Tensorf x = babygpt::Tensorf::randn({4, 8, 32}, gen);
///     babygpt::Tensorf y = proj.forward(fc.forward(x));  // (B, T, 32) -> (B, T, 128) -> (B, T, 32)
template <typename T>
class Linear : public Module<T> {
public:
    Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true,
           Generator& gen = default_generator()) {
        BABYGPT_CHECK(in_features > 0 && out_features > 0, "Linear: sizes must be positive, got in_features=",
                      in_features, ", out_features=", out_features);
        const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
        weight = this->register_parameter("weight", Tensor<T>::rand({out_features, in_features}, gen, -bound, bound));
        if (bias) this->bias = this->register_parameter("bias", Tensor<T>::rand({out_features}, gen, -bound, bound));
    }

    /// With a bias, weights from `gen`.
    Linear(std::int64_t in_features, std::int64_t out_features, Generator& gen)
        : Linear(in_features, out_features, true, gen) {}

    Tensor<T> forward(const Tensor<T>& x) const { return linear(x, weight, bias); }

    Tensor<T> weight;  // (out, in)
    Tensor<T> bias;    // (out), undefined without bias
};

}  // namespace babygpt::nn
