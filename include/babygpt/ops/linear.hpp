#pragma once
// linear: y = x W^T + b, with W stored (out, in) as PyTorch stores it. Every leading dimension of x folds
// into the rows, so a (B, T, C) input is one (B*T, C) matrix product. And cat_rows, which stacks tensors
// along the first dimension (used to fuse per-head projection weights into one matrix).
//
// Backward, with x viewed as X (N, in) and the upstream gradient as G (N, out): from y_nj = sum_i x_ni W_ji + b_j,
//   dX = G W          (N, out) @ (out, in)
//   dW = G^T X        (out, N) @ (N, in)
//   db = sum over rows of G
// The products are kernels/products.hpp's, which pick a kernel for the shapes (narrow or general GEMM).

#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/kernels/products.hpp"
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
    if (bias.defined()) Y.rowwise() = bias.matrix(1, out_features).row(0);  // Y = b, then
    kernels::product_nt(kernels::Output<T>{Y, bias.defined()}, x.matrix(N, in), weight.matrix());  // Y (+)= X W^T

    std::vector<Tensor<T>> inputs{x, weight};
    if (bias.defined()) inputs.push_back(bias);
    // x is read again only for dW; if its op can compute it again (a LayerNorm), the graph does not keep it.
    record(y, "linear", inputs, [x = x.recomputable(), weight, bias, N, in, out_features](const Tensor<T>& g) {
        const auto G = g.matrix(N, out_features);
        if (x.requires_grad())  // dX += G W
            kernels::product_nn(x.grad_target(N, in), G, weight.matrix());
        if (weight.requires_grad())  // dW += G^T X
            kernels::product_tn(weight.grad_target(out_features, in), G, x.values().matrix(N, in));
        if (bias.defined() && bias.requires_grad())  // db += sum over rows of G
            bias.add_to_grad(1, out_features, G.colwise().sum());
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
            if (p.requires_grad()) p.add_to_grad(Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(src, p.numel()));
            src += p.numel();
        }
    });
    return out;
}

}  // namespace babygpt
