#pragma once
// Fused LayerNorm over the last dimension, as torch.nn.functional.layer_norm:
//   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps),  var biased (divide by C).
// Forward caches each row's mean and rstd, exactly what backward needs. With xhat = (x - mean) * rstd
// and dxhat = g * weight, per row:
//   dx      = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
//   dweight += sum over rows of g * xhat,   dbias += sum over rows of g

#include <cmath>

#include "babygpt/autograd.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// Calls f(std::integral_constant<int, CC>()) with CC = C for the common widths, whose rows are then
/// fixed-size expressions the compiler unrolls into a few SIMD registers, else with CC = Eigen::Dynamic.
template <typename F>
void with_row_width(std::int64_t C, F&& f) {
    switch (C) {
        case 32: return f(std::integral_constant<int, 32>());
        case 64: return f(std::integral_constant<int, 64>());
        case 128: return f(std::integral_constant<int, 128>());
        case 256: return f(std::integral_constant<int, 256>());
        case 384: return f(std::integral_constant<int, 384>());
        default: return f(std::integral_constant<int, Eigen::Dynamic>());
    }
}

}  // namespace detail

/// x (..., C), weight (C), bias (C) -> (..., C).
template <typename T>
Tensor<T> layer_norm(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, double eps = 1e-5) {
    profiler::Scope profile("layer_norm");
    BABYGPT_CHECK(x.dim() >= 1, "layer_norm: needs at least 1 dimension");
    const std::int64_t C = x.size(-1), rows = C == 0 ? 0 : x.numel() / C;
    BABYGPT_CHECK(weight.shape() == Shape{C} && bias.shape() == Shape{C}, "layer_norm: input ",
                  to_string(x.shape()), " needs weight and bias of shape (", C, ",), got ",
                  to_string(weight.shape()), " and ", to_string(bias.shape()));
    using Column = Eigen::Array<T, Eigen::Dynamic, 1>;
    auto mean_rstd = std::make_shared<std::pair<Column, Column>>(Column(rows), Column(rows));
    Tensor<T> y = Tensor<T>::empty(x.shape());
    detail::with_row_width(C, [&](auto width) {
        using Row = Eigen::Array<T, 1, decltype(width)::value>;  // (C)
        const Eigen::Map<const Row> w(weight.data(), C), b(bias.data(), C);
        for (std::int64_t r = 0; r < rows; ++r) {
            const Eigen::Map<const Row> xr(x.data() + r * C, C);
            const T m = xr.sum() / static_cast<T>(C);
            const T var = (xr - m).square().sum() / static_cast<T>(C);
            const T s = T(1) / std::sqrt(var + static_cast<T>(eps));
            mean_rstd->first(r) = m;
            mean_rstd->second(r) = s;
            Eigen::Map<Row>(y.data() + r * C, C) = (xr - m) * s * w + b;
        }
    });
    record(y, "layer_norm", {x, weight, bias}, [x, weight, bias, mean_rstd, rows, C](const Tensor<T>& g) {
        const Column& mean = mean_rstd->first;
        const Column& rstd = mean_rstd->second;
        const bool need_dx = x.requires_grad();
        // dx is written row by row: assigned if this is its first contribution, else added.
        auto [dx, accumulate] = need_dx ? x.grad_target(rows, C) : typename Tensor<T>::GradTarget{{nullptr, 0, 0}, false};
        detail::with_row_width(C, [&, dx = dx.data(), accumulate = accumulate](auto width) {
            using Row = Eigen::Array<T, 1, decltype(width)::value>;  // (C)
            const Eigen::Map<const Row> w(weight.data(), C);
            Row dweight = Row::Zero(C), dbias = Row::Zero(C);
            for (std::int64_t r = 0; r < rows; ++r) {
                const Eigen::Map<const Row> xr(x.data() + r * C, C), gr(g.data() + r * C, C);
                const Row xhat = (xr - mean(r)) * rstd(r);
                dweight += gr * xhat;
                dbias += gr;
                if (!need_dx) continue;
                const Row dxhat = gr * w;
                const T mean_dxhat = dxhat.mean(), mean_dxhat_xhat = (dxhat * xhat).mean();
                Eigen::Map<Row> dxr(dx + r * C, C);
                if (accumulate) dxr += rstd(r) * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
                else dxr = rstd(r) * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
            }
            if (weight.requires_grad()) weight.add_to_grad(1, C, dweight);
            if (bias.requires_grad()) bias.add_to_grad(1, C, dbias);
        });
    });
    return y;
}

}  // namespace babygpt
