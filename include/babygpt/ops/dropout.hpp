#pragma once
// Dropout: in training, each element is zeroed with probability p and the survivors are scaled by
// 1 / (1 - p), so the expected value is unchanged; in evaluation it is the identity.
// The keep mask comes from the caller's Generator, so a run is reproducible from its seed.

#include "babygpt/autograd.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

template <typename T>
Tensor<T> dropout(const Tensor<T>& x, double p, bool training, Generator& gen) {
    BABYGPT_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
    if (!training || p == 0.0) return x;
    // mask holds 0 or 1 / (1 - p) (all 0 when p == 1).
    Tensor<T> mask = Tensor<T>::empty(x.shape());
    const T keep_scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    for (std::int64_t i = 0; i < mask.numel(); ++i) mask.data()[i] = gen.uniform() >= p ? keep_scale : T(0);
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array() * mask.array();
    record(y, "dropout", {x}, [x, mask](const Tensor<T>& g) { x.grad_array() += g.array() * mask.array(); });
    return y;
}

}  // namespace babygpt
