#pragma once
// LayerNorm's row kernels: the per-row loops of ops/layer_norm.hpp, where the formulas are derived.
//
// Every row of C values is normalised on its own, so each kernel is one loop over the rows. For the
// common widths (32, 64, 128, 256, 384) a row is a fixed-size Eigen array, which the compiler unrolls
// into a few SIMD registers; any other width runs the same code with a dynamic-size row.
//
//     std::vector<float> x = {1, 2, 3, 4, 5, 6}, weight(3, 1.f), bias(3, 0.f), y(6), mean(2), rstd(2);
//     kernels::LayerNormForward<float> args;  // two rows of three; every argument by name
//     args.rows = 2; args.C = 3; args.eps = 1e-5f;
//     args.x = x.data(); args.weight = weight.data(); args.bias = bias.data();
//     args.y = y.data(); args.mean = mean.data(); args.rstd = rstd.data();
//     kernels::layer_norm_forward(args);      // mean {2, 5}; y {-1.22, 0, 1.22, -1.22, 0, 1.22}

#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include "babygpt/kernels/dispatch.hpp"

namespace babygpt::kernels {

/// The arguments of layer_norm_forward. Every matrix is row-major and contiguous.
template <typename Scalar>
struct LayerNormForward {
    std::int64_t rows = 0, C = 0;
    const Scalar* x = nullptr;       // (rows, C), the input
    const Scalar* weight = nullptr;  // (C)
    const Scalar* bias = nullptr;    // (C)
    Scalar eps = 0;                  // added to the variance
    Scalar* y = nullptr;             // (rows, C), written: the output
    Scalar* mean = nullptr;          // (rows), written: each row's mean
    Scalar* rstd = nullptr;          // (rows), written: each row's 1 / sqrt(var + eps)
    // Read mean and rstd instead of writing them (y computed again from an earlier call's statistics:
    // the same values, bit for bit, without the two passes over each row that find them).
    bool statistics_given = false;
};

/// The arguments of layer_norm_backward. Every matrix is row-major and contiguous.
template <typename Scalar>
struct LayerNormBackward {
    std::int64_t rows = 0, C = 0;
    const Scalar* x = nullptr;       // (rows, C), the forward's input
    const Scalar* weight = nullptr;  // (C)
    const Scalar* mean = nullptr;    // (rows), as the forward wrote it
    const Scalar* rstd = nullptr;    // (rows), likewise
    const Scalar* dy = nullptr;      // (rows, C), the gradient of the output
    Scalar* dx = nullptr;            // (rows, C), or null when x needs no gradient
    bool accumulate_dx = false;      // add into dx, or assign it (a fresh buffer: autograd.hpp's rule)
    Scalar* dweight = nullptr;       // (C), written: the sum over the rows of dy * xhat
    Scalar* dbias = nullptr;         // (C), written: the sum over the rows of dy
};

namespace detail {

template <int Width, typename Scalar>
void layer_norm_forward_rows(const LayerNormForward<Scalar>& a) {
    using Row = Eigen::Array<Scalar, 1, Width>;  // (C), fixed-size unless Width is Eigen::Dynamic
    const std::int64_t C = a.C;
    const Eigen::Map<const Row> w(a.weight, C), b(a.bias, C);
    for (std::int64_t r = 0; r < a.rows; ++r) {
        const Eigen::Map<const Row> xr(a.x + r * C, C);
        if (!a.statistics_given) {
            a.mean[r] = xr.sum() / static_cast<Scalar>(C);
            const Scalar var = (xr - a.mean[r]).square().sum() / static_cast<Scalar>(C);
            a.rstd[r] = Scalar(1) / std::sqrt(var + a.eps);
        }
        Eigen::Map<Row>(a.y + r * C, C) = (xr - a.mean[r]) * a.rstd[r] * w + b;
    }
}

template <int Width, bool AccumulateDx, typename Scalar>
void layer_norm_backward_rows(const LayerNormBackward<Scalar>& a) {
    using Row = Eigen::Array<Scalar, 1, Width>;  // (C), fixed-size unless Width is Eigen::Dynamic
    const std::int64_t C = a.C;
    const Eigen::Map<const Row> w(a.weight, C);
    Row dweight = Row::Zero(C), dbias = Row::Zero(C);
    for (std::int64_t r = 0; r < a.rows; ++r) {
        const Eigen::Map<const Row> xr(a.x + r * C, C), dyr(a.dy + r * C, C);
        const Row xhat = (xr - a.mean[r]) * a.rstd[r];
        dweight += dyr * xhat;
        dbias += dyr;
        if (!a.dx) continue;
        const Row dxhat = dyr * w;
        const Scalar mean_dxhat = dxhat.mean(), mean_dxhat_xhat = (dxhat * xhat).mean();
        // The formula once, as an unevaluated expression; the assignment below evaluates it.
        const auto dx_row = a.rstd[r] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
        Eigen::Map<Row> dxr(a.dx + r * C, C);
        if constexpr (AccumulateDx) dxr += dx_row;
        else dxr = dx_row;
    }
    Eigen::Map<Row>(a.dweight, C) = dweight;
    Eigen::Map<Row>(a.dbias, C) = dbias;
}

/// accumulate_dx as a template argument: each case is its own loop, without a branch per row.
template <int Width, typename Scalar>
void layer_norm_backward_width(const LayerNormBackward<Scalar>& a) {
    if (a.accumulate_dx) layer_norm_backward_rows<Width, true>(a);
    else layer_norm_backward_rows<Width, false>(a);
}

}  // namespace detail

/// Normalises every row of a.x into a.y and records each row's mean and rstd.
template <typename Scalar>
void layer_norm_forward(const LayerNormForward<Scalar>& a) {
    const bool fixed = with_constant<32, 64, 128, 256, 384>(a.C, [&](auto width) {
        detail::layer_norm_forward_rows<decltype(width)::value>(a);
    });
    if (!fixed) detail::layer_norm_forward_rows<Eigen::Dynamic>(a);
}

/// Writes dx (when a.dx is set), dweight and dbias from dy and the forward's statistics.
template <typename Scalar>
void layer_norm_backward(const LayerNormBackward<Scalar>& a) {
    const bool fixed = with_constant<32, 64, 128, 256, 384>(a.C, [&](auto width) {
        detail::layer_norm_backward_width<decltype(width)::value>(a);
    });
    if (!fixed) detail::layer_norm_backward_width<Eigen::Dynamic>(a);
}

}  // namespace babygpt::kernels
