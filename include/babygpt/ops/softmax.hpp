#pragma once
// softmax and log_softmax over the last dimension, and masking (masked_fill, causal_mask).
//
// Both softmaxes subtract the row maximum first, so large logits cannot overflow exp().
// Backward, with y the output and g its gradient, per row:
//   softmax:     dx = y * (g - sum(g * y))
//   log_softmax: dx = g - softmax(x) * sum(g)

#include <limits>

#include "babygpt/autograd.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

template <typename T>
Tensor<T> softmax(const Tensor<T>& x) {
    BABYGPT_CHECK(x.dim() >= 1, "softmax: needs at least 1 dimension");
    // x seen as (rows, C). Rows of width 0 have no maximum (Eigen asserts on one): none to run.
    const std::int64_t C = x.size(-1), rows = C == 0 ? 0 : leading_numel(x.shape());
    Tensor<T> y = Tensor<T>::empty(x.shape());
    auto X = x.matrix(rows, C).array();
    auto Y = y.matrix(rows, C).array();
    using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
    // Per-row statistics go into columns first: Eigen must not re-evaluate them per element.
    const Column row_max = X.rowwise().maxCoeff();
    Y = (X.colwise() - row_max).exp();
    const Column row_sum = Y.rowwise().sum();
    Y.colwise() /= row_sum;
    Tensor<T> saved = y.detach();
    record(y, "softmax", {x}, [x, saved, rows, C](const Tensor<T>& g) {
        auto G = g.matrix(rows, C).array();
        auto Y = saved.matrix(rows, C).array();
        const Eigen::Array<T, Eigen::Dynamic, 1> dot = (G * Y).rowwise().sum();
        x.add_to_grad(rows, C, Y * (G.colwise() - dot));
    });
    return y;
}

template <typename T>
Tensor<T> log_softmax(const Tensor<T>& x) {
    BABYGPT_CHECK(x.dim() >= 1, "log_softmax: needs at least 1 dimension");
    const std::int64_t C = x.size(-1), rows = C == 0 ? 0 : leading_numel(x.shape());  // as in softmax
    Tensor<T> y = Tensor<T>::empty(x.shape());
    auto X = x.matrix(rows, C).array();
    auto Y = y.matrix(rows, C).array();
    using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
    const Column row_max = X.rowwise().maxCoeff();
    Y = X.colwise() - row_max;                            // shifted: the max of each row is 0
    const Column log_sum_exp = Y.exp().rowwise().sum().log();
    Y.colwise() -= log_sum_exp;
    Tensor<T> saved = y.detach();
    record(y, "log_softmax", {x}, [x, saved, rows, C](const Tensor<T>& g) {
        auto G = g.matrix(rows, C).array();
        auto Y = saved.matrix(rows, C).array();
        const Eigen::Array<T, Eigen::Dynamic, 1> total = G.rowwise().sum();
        x.add_to_grad(rows, C, G - Y.exp().colwise() * total);
    });
    return y;
}

/// Where `mask` is non-zero, the output is `value`; elsewhere it is x. The mask's shape must equal
/// x's trailing dimensions (after dropping leading 1s), e.g. a (T, T) mask over (B, T, T) scores.
template <typename T>
Tensor<T> masked_fill(const Tensor<T>& x, const Tensor<T>& mask, T value) {
    BABYGPT_CHECK(detail::is_trailing_shape(mask.shape(), x.shape()), "masked_fill: mask ", to_string(mask.shape()),
                  " does not match the trailing dimensions of ", to_string(x.shape()));
    const std::int64_t inner = mask.numel(), repeat = inner == 0 ? 0 : x.numel() / inner;
    Tensor<T> y = Tensor<T>::empty(x.shape());
    for (std::int64_t r = 0; r < repeat; ++r)
        for (std::int64_t i = 0; i < inner; ++i)
            y.data()[r * inner + i] = mask.data()[i] != T(0) ? value : x.data()[r * inner + i];
    record(y, "masked_fill", {x}, [x, mask, repeat, inner](const Tensor<T>& g) {
        T* gx = x.grad_data();  // scattered: the masked elements receive nothing
        for (std::int64_t r = 0; r < repeat; ++r)
            for (std::int64_t i = 0; i < inner; ++i)
                if (mask.data()[i] == T(0)) gx[r * inner + i] += g.data()[r * inner + i];
    });
    return y;
}

/// The causal mask of attention: in the last two dimensions (..., T, T), entry (i, j) with j > i (a
/// future position) becomes `value` (-inf by default, so softmax gives it zero weight).
template <typename T>
Tensor<T> causal_mask(const Tensor<T>& x, T value = -std::numeric_limits<T>::infinity()) {
    BABYGPT_CHECK(x.dim() >= 2, "causal_mask: needs at least 2 dimensions, got ", to_string(x.shape()));
    const std::int64_t R = x.size(-2), C = x.size(-1);
    const std::int64_t batch = R * C == 0 ? 0 : x.numel() / (R * C);
    Tensor<T> y = x.clone();
    for (std::int64_t b = 0; b < batch; ++b)
        for (std::int64_t i = 0; i < R; ++i)
            std::fill(y.data() + (b * R + i) * C + std::min(i + 1, C), y.data() + (b * R + i + 1) * C, value);
    record(y, "causal_mask", {x}, [x, batch, R, C](const Tensor<T>& g) {
        T* gx = x.grad_data();  // scattered: the masked (future) entries receive nothing
        for (std::int64_t b = 0; b < batch; ++b)
            for (std::int64_t i = 0; i < R; ++i)
                for (std::int64_t j = 0; j <= std::min(i, C - 1); ++j)
                    gx[(b * R + i) * C + j] += g.data()[(b * R + i) * C + j];
    });
    return y;
}

}  // namespace babygpt
