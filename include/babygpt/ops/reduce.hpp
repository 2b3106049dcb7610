#pragma once
// Reductions: sum and mean of all elements (a 0-d result) or over any one dimension.

#include "babygpt/autograd.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// Sum of all elements, shape ().
template <typename T>
Tensor<T> sum(const Tensor<T>& a) {
    Tensor<T> out = Tensor<T>::scalar(a.array().sum());
    record(out, "sum", {a}, [a](const Tensor<T>& g) {
        a.add_to_grad(Tensor<T>::Array::Constant(a.numel(), g.item()));  // every element: g
    });
    return out;
}

/// Mean of all elements, shape (). The mean of an empty tensor is NaN, as in PyTorch.
template <typename T>
Tensor<T> mean(const Tensor<T>& a) {
    const T n = static_cast<T>(a.numel());
    Tensor<T> out = Tensor<T>::scalar(a.array().sum() / n);
    record(out, "mean", {a}, [a, n](const Tensor<T>& g) {
        a.add_to_grad(Tensor<T>::Array::Constant(a.numel(), g.item() / n));  // every element: g / n
    });
    return out;
}

namespace detail {

/// A tensor seen as (outer, n, inner) around the reduced dimension d: (2, 3, 4) reduced over d = 1 is
/// outer 2, n 3, inner 4. Row-major storage makes element [o, k, i] sit at (o * n + k) * inner + i, so
/// each outer slice is an (n, inner) row-major matrix whose columns are what is reduced.
struct ReducedDim {
    Shape out_shape;
    std::int64_t outer = 1, n = 1, inner = 1;
};

inline ReducedDim reduced_dim(const char* op, const Shape& shape, std::int64_t dim, bool keepdim) {
    BABYGPT_CHECK(!shape.empty(), op, ": cannot reduce a dimension of a 0-d tensor");
    const std::size_t d = normalize_dim(op, dim, shape.size());
    ReducedDim r;
    for (std::size_t i = 0; i < d; ++i) r.outer *= shape[i];
    r.n = shape[d];
    for (std::size_t i = d + 1; i < shape.size(); ++i) r.inner *= shape[i];
    r.out_shape = shape;
    if (keepdim) r.out_shape[d] = 1;
    else r.out_shape.erase(r.out_shape.begin() + static_cast<std::ptrdiff_t>(d));
    return r;
}

/// scale * the sum over one dimension, forward and backward (sum: scale 1; mean: scale 1/n).
///   out[o, i] = scale * sum_k a[o, k, i]        (a viewed as (outer, n, inner), out as (outer, inner))
///   da[o, k, i] += scale * g[o, i]              (every k gets the same share)
/// Seen as (outer, n * inner), da is scale * g (outer, inner) repeated n times along each row.
template <typename T>
Tensor<T> scaled_sum_over(const char* op, const Tensor<T>& a, std::int64_t dim, bool keepdim, bool mean) {
    const ReducedDim r = reduced_dim(op, a.shape(), dim, keepdim);
    const std::int64_t outer = r.outer, n = r.n, inner = r.inner;
    const T scale = mean ? T(1) / static_cast<T>(n) : T(1);  // n = 0: NaN for a mean, as in PyTorch
    using Slice = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
    Tensor<T> out = Tensor<T>::empty(r.out_shape);
    if (inner == 1) {
        // The last dimension (or only ones after it): each row of the (outer, n) matrix reduces to one value.
        out.matrix(outer, 1) = scale * a.matrix(outer, n).rowwise().sum();
    } else {
        for (std::int64_t o = 0; o < outer; ++o)
            Slice(out.data() + o * inner, 1, inner) = scale * Slice(a.data() + o * n * inner, n, inner).colwise().sum();
    }
    record(out, mean ? "mean_dim" : "sum_dim", {a}, [a, outer, n, inner, scale](const Tensor<T>& g) {
        a.add_to_grad(outer, n * inner, (scale * g.matrix(outer, inner)).replicate(1, n));
    });
    return out;
}

}  // namespace detail

/// Sum over dimension `dim` (negative counts from the end), as torch.sum(a, dim, keepdim):
/// (2, 3, 4) over dim 1 -> (2, 4), or (2, 1, 4) with keepdim.
///
///     babygpt::Tensorf x = babygpt::Tensorf::ones({2, 3, 4});
///     babygpt::Tensorf rows = babygpt::sum(x, 1);                       // (2, 4), every value 3
///     babygpt::Tensorf kept = babygpt::sum(x, -1, /*keepdim=*/true);    // (2, 3, 1), every value 4
///     babygpt::Tensorf centred = x - babygpt::mean(x, 0);               // (2, 3, 4) - (3, 4)
template <typename T>
Tensor<T> sum(const Tensor<T>& a, std::int64_t dim, bool keepdim = false) {
    return detail::scaled_sum_over("sum", a, dim, keepdim, /*mean=*/false);
}

/// Mean over dimension `dim`, as torch.mean(a, dim, keepdim). The mean over an empty dimension is NaN.
template <typename T>
Tensor<T> mean(const Tensor<T>& a, std::int64_t dim, bool keepdim = false) {
    return detail::scaled_sum_over("mean", a, dim, keepdim, /*mean=*/true);
}

}  // namespace babygpt
