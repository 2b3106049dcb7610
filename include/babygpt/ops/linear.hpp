#pragma once
// linear: y = x W^T + b with W stored (out, in) as PyTorch stores it, in one GEMM over all rows (split
// across threads by ops/gemm.hpp) and without materialising W^T (Eigen reads the transposed map directly). And cat_rows, which stacks
// tensors along the first dimension (used to fuse per-head projection weights into one matrix).
//
// Backward, with x viewed as (N, in) and g as (N, out):
//   dx = g W          (N, out) @ (out, in)
//   dW += g^T x       (out, N) @ (N, in)
//   db += sum over rows of g
// When a product's result is only a few SIMD registers wide (out or in features of 1, 2 or 4 packets, as
// in the v9 model), it goes through the narrow kernels of narrow_gemm.hpp instead of a general GEMM.

#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/ops/gemm.hpp"
#include "babygpt/ops/narrow_gemm.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// x (..., in), weight (out, in), bias (out) or undefined -> (..., out).
template <typename T>
Tensor<T> linear(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias = Tensor<T>()) {
    profiler::Scope profile("linear");
    BABYGPT_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear: input ",
                  to_string(x.shape()), " and weight ", to_string(weight.shape()),
                  ": the weight must be (out_features, in_features) with in_features = the input's last dimension");
    const std::int64_t in = weight.size(1), out_features = weight.size(0);
    BABYGPT_CHECK(!bias.defined() || bias.shape() == Shape{out_features}, "linear: bias ", to_string(bias.shape()),
                  " does not match weight ", to_string(weight.shape()), " (expected (", out_features, ",))");
    const std::int64_t N = leading_numel(x.shape());
    Shape shape = x.shape();
    shape.back() = out_features;
    Tensor<T> y = Tensor<T>::empty(shape);
    auto Y = y.matrix(N, out_features);
    if (bias.defined()) Y.rowwise() = bias.matrix(1, out_features).row(0);
    if (detail::narrow_product_fits<T>(out_features)) {  // y += x W^T with W^T (in, out) as the narrow side
        Tensor<T> weight_t = Tensor<T>::empty({in, out_features});
        detail::transpose_padded(weight.data(), out_features, in, weight_t.data(), out_features);
        detail::rows_times_narrow(x.data(), in, weight_t.data(), N, in, out_features, y.data(), bias.defined());
    } else {
        detail::gemm_rows(Y, x.matrix(N, in), weight.matrix().transpose(), bias.defined());
    }
    std::vector<Tensor<T>> inputs{x, weight};
    if (bias.defined()) inputs.push_back(bias);
    record(y, "linear", inputs, [x, weight, bias, N, in, out_features](const Tensor<T>& g) {
        auto G = g.matrix(N, out_features);
        const bool narrow = detail::narrow_product_fits<T>(in);  // dx and dW are (.., in): narrow kernels
        if (x.requires_grad()) {
            auto [dx, accumulate] = x.grad_target(N, in);
            if (narrow) detail::rows_times_narrow(g.data(), out_features, weight.data(), N, out_features, in, dx.data(), accumulate);
            else detail::gemm_rows(dx, G, weight.matrix(), accumulate);
        }
        if (weight.requires_grad()) {
            auto [dw, accumulate] = weight.grad_target(out_features, in);
            if (narrow) detail::columns_times_narrow(g.data(), out_features, x.data(), N, out_features, in, dw.data(), accumulate);
            else detail::gemm_rows(dw, G.transpose(), x.matrix(N, in), accumulate);
        }
        if (bias.defined() && bias.requires_grad()) bias.add_to_grad(1, out_features, G.colwise().sum());
    });
    return y;
}

/// Stacks tensors along the first dimension; the other dimensions must match: (a, C) + (b, C) -> (a+b, C).
/// Row-major storage makes this a plain append of each part's data.
template <typename T>
Tensor<T> cat_rows(const std::vector<Tensor<T>>& parts) {
    profiler::Scope profile("cat_rows");
    BABYGPT_CHECK(!parts.empty(), "cat_rows: needs at least one tensor");
    const Shape& first = parts.front().shape();
    BABYGPT_CHECK(!first.empty(), "cat_rows: cannot stack 0-d tensors");
    std::int64_t rows = 0;
    for (const Tensor<T>& p : parts) {
        BABYGPT_CHECK(p.dim() == first.size() && std::equal(first.begin() + 1, first.end(), p.shape().begin() + 1),
                      "cat_rows: ", to_string(first), " and ", to_string(p.shape()),
                      ": all dimensions but the first must match");
        rows += p.size(0);
    }
    Shape shape = first;
    shape.front() = rows;
    Tensor<T> out = Tensor<T>::empty(shape);
    T* dst = out.data();
    for (const Tensor<T>& p : parts) dst = std::copy_n(p.data(), p.numel(), dst);
    record(out, "cat_rows", parts, [parts](const Tensor<T>& g) {
        const T* src = g.data();
        for (const Tensor<T>& p : parts) {
            if (p.requires_grad()) p.grad_array() += Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(src, p.numel());
            src += p.numel();
        }
    });
    return out;
}

}  // namespace babygpt
