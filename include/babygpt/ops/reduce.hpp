#pragma once
// Reductions: sum and mean of all elements (a 0-d result) or over the last dimension.

#include "babygpt/autograd.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// Sum of all elements, shape ().
template <typename T>
Tensor<T> sum(const Tensor<T>& a) {
    Tensor<T> out = Tensor<T>::scalar(a.array().sum());
    record(out, "sum", {a}, [a](const Tensor<T>& g) { a.grad_array() += g.item(); });
    return out;
}

/// Mean of all elements, shape (). The mean of an empty tensor is NaN, as in PyTorch.
template <typename T>
Tensor<T> mean(const Tensor<T>& a) {
    const T n = static_cast<T>(a.numel());
    Tensor<T> out = Tensor<T>::scalar(a.array().sum() / n);
    record(out, "mean", {a}, [a, n](const Tensor<T>& g) { a.grad_array() += g.item() / n; });
    return out;
}

namespace detail {

inline Shape reduced_shape(const char* op, const Shape& shape, std::int64_t dim, bool keepdim) {
    BABYGPT_CHECK(!shape.empty(), op, ": cannot reduce a dimension of a 0-d tensor");
    const std::size_t d = normalize_dim(op, dim, shape.size());
    BABYGPT_CHECK(d == shape.size() - 1, op, ": only the last dimension can be reduced, got dim ", dim,
                  " for shape ", to_string(shape));
    Shape out = shape;
    if (keepdim) out.back() = 1;
    else out.pop_back();
    return out;
}

}  // namespace detail

/// Sum over the last dimension (dim must be -1 or dim()-1): (..., C) -> (...) or (..., 1) with keepdim.
template <typename T>
Tensor<T> sum(const Tensor<T>& a, std::int64_t dim, bool keepdim = false) {
    Tensor<T> out = Tensor<T>::empty(detail::reduced_shape("sum", a.shape(), dim, keepdim));
    const std::int64_t C = a.size(-1), rows = out.numel();
    out.matrix(rows, 1) = a.matrix(rows, C).rowwise().sum();
    record(out, "sum_last", {a}, [a, rows, C](const Tensor<T>& g) {
        a.grad_matrix(rows, C).colwise() += g.matrix(rows, 1).col(0);
    });
    return out;
}

/// Mean over the last dimension: (..., C) -> (...) or (..., 1) with keepdim.
template <typename T>
Tensor<T> mean(const Tensor<T>& a, std::int64_t dim, bool keepdim = false) {
    Tensor<T> out = Tensor<T>::empty(detail::reduced_shape("mean", a.shape(), dim, keepdim));
    const std::int64_t C = a.size(-1), rows = out.numel();
    out.matrix(rows, 1) = a.matrix(rows, C).rowwise().mean();
    record(out, "mean_last", {a}, [a, rows, C](const Tensor<T>& g) {
        a.grad_matrix(rows, C).colwise() += g.matrix(rows, 1).col(0) / static_cast<T>(C);
    });
    return out;
}

}  // namespace babygpt
