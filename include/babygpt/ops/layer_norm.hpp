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
    auto mean_rstd = std::make_shared<std::pair<Column, Column>>(Column(rows), Column(rows));
    Column& mean = mean_rstd->first;
    Column& rstd = mean_rstd->second;
    Tensor<T> y = Tensor<T>::empty(x.shape());
    auto X = x.matrix(rows, C).array();
    auto Y = y.matrix(rows, C).array();
    auto w = weight.matrix(1, C).array();
    auto b = bias.matrix(1, C).array();
    for (std::int64_t r = 0; r < rows; ++r) {
        const T m = X.row(r).mean();
        const T var = (X.row(r) - m).square().mean();
        const T s = T(1) / std::sqrt(var + static_cast<T>(eps));
        mean(r) = m;
        rstd(r) = s;
        Y.row(r) = (X.row(r) - m) * s * w + b;
    }
    record(y, "layer_norm", {x, weight, bias}, [x, weight, bias, mean_rstd, rows, C](const Tensor<T>& g) {
        const Column& mean = mean_rstd->first;
        const Column& rstd = mean_rstd->second;
        auto X = x.matrix(rows, C).array();
        auto G = g.matrix(rows, C).array();
        auto w = weight.matrix(1, C).array();
        Eigen::Array<T, 1, Eigen::Dynamic> xhat(C), dxhat(C);
        for (std::int64_t r = 0; r < rows; ++r) {
            xhat = (X.row(r) - mean(r)) * rstd(r);
            if (weight.requires_grad()) weight.grad_matrix(1, C).array() += G.row(r) * xhat;
            if (bias.requires_grad()) bias.grad_matrix(1, C).array() += G.row(r);
            if (x.requires_grad()) {
                dxhat = G.row(r) * w;
                x.grad_matrix(rows, C).array().row(r) +=
                    rstd(r) * (dxhat - dxhat.mean() - xhat * (dxhat * xhat).mean());
            }
        }
    });
    return y;
}

}  // namespace babygpt
