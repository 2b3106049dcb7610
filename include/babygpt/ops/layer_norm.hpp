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
    using Row = Eigen::Array<T, 1, Eigen::Dynamic>;
    auto mean_rstd = std::make_shared<std::pair<Column, Column>>(Column(rows), Column(rows));
    Column& mean = mean_rstd->first;
    Column& rstd = mean_rstd->second;
    Tensor<T> y = Tensor<T>::empty(x.shape());
    const auto X = x.matrix(rows, C).array();        // (rows, C)
    auto Y = y.matrix(rows, C).array();              // (rows, C)
    const auto w = weight.matrix(1, C).array().row(0);  // (C)
    const auto b = bias.matrix(1, C).array().row(0);    // (C)
    // Whole-matrix expressions, one pass each, rather than a loop of short row expressions.
    mean = X.rowwise().mean();
    Y = X.colwise() - mean;  // centred, then normalised in place
    rstd = ((Y.square().rowwise().sum() / static_cast<T>(C)) + static_cast<T>(eps)).sqrt().inverse();  // exact, not rsqrt()'s estimate
    Y = (Y.colwise() * rstd).rowwise() * w;
    Y.rowwise() += b;
    record(y, "layer_norm", {x, weight, bias}, [x, weight, bias, mean_rstd, rows, C](const Tensor<T>& g) {
        const Column& mean = mean_rstd->first;
        const Column& rstd = mean_rstd->second;
        const auto X = x.matrix(rows, C).array();
        const auto G = g.matrix(rows, C).array();
        const auto w = weight.matrix(1, C).array().row(0);
        const bool need_dx = x.requires_grad();
        Row dweight = Row::Zero(C), dbias = Row::Zero(C), xhat(C), dxhat(C);
        // dx is written row by row: assigned if this is its first contribution, else added.
        auto [dx, accumulate] = need_dx ? x.grad_target(rows, C) : typename Tensor<T>::GradTarget{{nullptr, 0, 0}, false};
        for (std::int64_t r = 0; r < rows; ++r) {
            xhat = (X.row(r) - mean(r)) * rstd(r);
            dweight += G.row(r) * xhat;
            dbias += G.row(r);
            if (!need_dx) continue;
            dxhat = G.row(r) * w;
            const T mean_dxhat = dxhat.mean(), mean_dxhat_xhat = (dxhat * xhat).mean();
            if (accumulate) dx.array().row(r) += rstd(r) * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
            else dx.array().row(r) = rstd(r) * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        }
        if (weight.requires_grad()) weight.add_to_grad(1, C, dweight);
        if (bias.requires_grad()) bias.add_to_grad(1, C, dbias);
    });
    return y;
}

}  // namespace babygpt
