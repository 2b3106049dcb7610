#pragma once
// LayerNorm over the last dimension, as torch.nn.functional.layer_norm. Each row x of C values:
//   mean = sum(x) / C,   var = sum((x - mean)^2) / C   (biased),   rstd = 1 / sqrt(var + eps)
//   xhat = (x - mean) * rstd
//   y    = xhat * weight + bias
// Forward keeps each row's mean and rstd: with x, that is all backward needs. And from x, y is cheap to
// compute again: a backward that reads y (a linear's, for its weight gradient) recomputes it.
//
// Backward, with g = dL/dy for one row and dxhat = g * weight (= dL/dxhat):
//   dweight = sum over the rows of g * xhat,   dbias = sum over the rows of g
//   dx      = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
// Why dx: every xhat_j depends on every x_i of its row, through mean and rstd. With
//   d mean / dx_i = 1/C   and   d rstd / dx_i = -rstd^3 (x_i - mean) / C = -rstd^2 xhat_i / C,
//   d xhat_j / dx_i = rstd (delta_ij - 1/C) + (x_j - mean) d rstd / dx_i = rstd (delta_ij - 1/C - xhat_j xhat_i / C),
// so dx_i = sum_j dxhat_j d xhat_j / dx_i = rstd (dxhat_i - mean(dxhat) - xhat_i mean(dxhat * xhat)).
//
// The loops over the rows are kernels::layer_norm_forward and layer_norm_backward (kernels/layer_norm.hpp).
// Under ReferenceMode the op is the first four lines above as plain ops (detail::layer_norm_reference),
// and autograd derives dx through them.

#include "babygpt/autograd.hpp"
#include "babygpt/kernels/layer_norm.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/reference_mode.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// layer_norm as the plain ops of its formula. x is seen as (rows, C) and transposed to (C, rows), so
/// that each row's statistics, a (rows) tensor, broadcast over it.
template <typename T>
Tensor<T> layer_norm_reference(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, double eps) {
    const std::int64_t C = x.size(-1);
    const Tensor<T> columns = transpose(reshape(x, {leading_numel(x.shape()), C}));  // (C, rows)
    const Tensor<T> centred = columns - mean(columns, 0);                              // x - mean, (C, rows)
    const Tensor<T> var = mean(centred * centred, 0);                                  // (rows), biased
    const Tensor<T> xhat = centred / sqrt(var + eps);                                  // (C, rows)
    return reshape(transpose(xhat) * weight + bias, x.shape());                        // (..., C)
}

}  // namespace detail

/// x (..., C), weight (C), bias (C) -> (..., C).
template <typename T>
Tensor<T> layer_norm(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias, double eps = 1e-5) {
    BABYGPT_CHECK(x.dim() >= 1, "layer_norm: needs at least 1 dimension");
    // x seen as (rows, C). Rows of width 0 have no statistics (Eigen's mean of nothing asserts): none to run.
    const std::int64_t C = x.size(-1), rows = C == 0 ? 0 : leading_numel(x.shape());
    BABYGPT_CHECK(weight.shape() == Shape{C} && bias.shape() == Shape{C}, "layer_norm: input ",
                  to_string(x.shape()), " needs weight and bias of shape (", C, ",), got ",
                  to_string(weight.shape()), " and ", to_string(bias.shape()));
    if (ReferenceMode::is_enabled()) return detail::layer_norm_reference(x, weight, bias, eps);
    profiler::Scope profile("layer_norm");
    Tensor<T> y = Tensor<T>::empty(x.shape());           // (..., C)
    Tensor<T> row_stats = Tensor<T>::empty({2, rows});   // (2, rows): each row's mean, then its rstd
    // Writes y into `out` (..., C); the statistics into row_stats, or, given, from there.
    const auto normalise = [x, weight, bias, row_stats, eps, rows, C](T* out, bool statistics_given) {
        kernels::LayerNormForward<T> forward;
        forward.rows = rows;
        forward.C = C;
        forward.x = x.data();
        forward.weight = weight.data();
        forward.bias = bias.data();
        forward.eps = static_cast<T>(eps);
        forward.y = out;
        forward.mean = row_stats.data();
        forward.rstd = row_stats.data() + rows;
        forward.statistics_given = statistics_given;
        kernels::layer_norm_forward(forward);
    };
    normalise(y.data(), false);

    record(y, "layer_norm", {x, weight, bias}, [x, weight, bias, row_stats, rows, C](const Tensor<T>& g) {
        Eigen::Array<T, 2, Eigen::Dynamic, Eigen::RowMajor> sums(2, C);  // (2, C): dweight, then dbias
        kernels::LayerNormBackward<T> backward;
        backward.rows = rows;
        backward.C = C;
        backward.x = x.data();
        backward.weight = weight.data();
        backward.mean = row_stats.data();
        backward.rstd = row_stats.data() + rows;
        backward.dy = g.data();
        if (x.requires_grad()) {
            typename Tensor<T>::GradTarget dx = x.grad_target(rows, C);  // the kernel assigns or adds
            backward.dx = dx.matrix.data();
            backward.accumulate_dx = dx.accumulate;
        }
        backward.dweight = sums.row(0).data();
        backward.dbias = sums.row(1).data();
        kernels::layer_norm_backward(backward);
        if (weight.requires_grad()) weight.add_to_grad(1, C, sums.row(0));
        if (bias.requires_grad()) bias.add_to_grad(1, C, sums.row(1));
    });
    // y is as wide as x, which backward keeps anyway: the graph need not keep y too (the same kernel on
    // the same x and statistics gives the same values, bit for bit).
    recompute_on_demand(y, [normalise, shape = x.shape()] {
        Tensor<T> again = Tensor<T>::empty(shape);
        normalise(again.data(), true);
        return again;
    });
    return y;
}

}  // namespace babygpt
