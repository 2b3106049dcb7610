#pragma once
// Ops that move data without arithmetic: reshape (a view), transpose of the last two dimensions,
// concat and split along the last dimension.

#include <string>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// The same data under a new shape with the same number of elements; one dimension may be -1 (inferred).
/// The result shares storage with `a` (a view), like torch's view().
template <typename T>
Tensor<T> reshape(const Tensor<T>& a, Shape shape) {
    std::int64_t known = 1;
    int inferred = -1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            BABYGPT_CHECK(inferred < 0, "reshape: ", to_string(a.shape()), " -> ", to_string(shape),
                          ": only one dimension can be -1");
            inferred = static_cast<int>(i);
        } else {
            BABYGPT_CHECK(shape[i] >= 0, "reshape: ", to_string(a.shape()), " -> ", to_string(shape),
                          ": negative dimension");
            known *= shape[i];
        }
    }
    if (inferred >= 0) {
        BABYGPT_CHECK(known > 0 && a.numel() % known == 0, "reshape: ", to_string(a.shape()), " -> ",
                      to_string(shape), ": ", a.numel(), " elements cannot be split that way");
        shape[static_cast<std::size_t>(inferred)] = a.numel() / known;
    }
    BABYGPT_CHECK(numel(shape) == a.numel(), "reshape: ", to_string(a.shape()), " -> ", to_string(shape), ": ",
                  a.numel(), " elements do not fit ", numel(shape));
    auto view = std::make_shared<TensorImpl<T>>();
    view->shape = shape;
    view->size = a.numel();
    view->data = a.impl().data;
    Tensor<T> out(std::move(view));
    record(out, "reshape", {a}, [a = a.gradient_only()](const Tensor<T>& g) { a.add_to_grad(g.array()); });
    return out;
}

/// Swaps the last two dimensions: (..., M, N) -> (..., N, M). Copies (there are no strides).
template <typename T>
Tensor<T> transpose(const Tensor<T>& a) {
    BABYGPT_CHECK(a.dim() >= 2, "transpose: needs at least 2 dimensions, got ", to_string(a.shape()));
    using MatrixMap = typename Tensor<T>::MatrixMap;
    const std::int64_t M = a.size(-2), N = a.size(-1);
    const std::int64_t batch = M * N == 0 ? 0 : a.numel() / (M * N);
    Shape shape = a.shape();
    std::swap(shape[shape.size() - 1], shape[shape.size() - 2]);
    Tensor<T> out = Tensor<T>::empty(shape);
    for (std::int64_t i = 0; i < batch; ++i)
        MatrixMap(out.data() + i * M * N, N, M) = MatrixMap(a.data() + i * M * N, M, N).transpose();
    record(out, "transpose", {a}, [a, batch, M, N](const Tensor<T>& g) {
        // da_i = g_i^T for each (M, N) matrix i: a whole contribution, written one matrix at a time.
        auto target = a.grad_target(batch * M, N);
        for (std::int64_t i = 0; i < batch; ++i)
            target.write(target.matrix.middleRows(i * M, M), MatrixMap(g.data() + i * M * N, N, M).transpose());
    });
    return out;
}

/// Joins tensors along the last dimension; all other dimensions must be equal.
/// E.g. n_head outputs (B, T, hs) -> (B, T, n_head * hs).
template <typename T>
Tensor<T> concat(const std::vector<Tensor<T>>& parts) {
    BABYGPT_CHECK(!parts.empty(), "concat: needs at least one tensor");
    const Shape& first = parts.front().shape();
    BABYGPT_CHECK(!first.empty(), "concat: cannot join 0-d tensors along the last dimension");
    std::int64_t total = 0;
    for (const Tensor<T>& p : parts) {
        BABYGPT_CHECK(p.dim() == first.size() && std::equal(first.begin(), first.end() - 1, p.shape().begin()),
                      "concat: ", to_string(first), " and ", to_string(p.shape()),
                      ": all dimensions but the last must match");
        total += p.size(-1);
    }
    // The product of the leading dimensions (not numel / first.back(), which divides by 0 for an empty first part).
    const std::int64_t rows = numel(Shape(first.begin(), first.end() - 1));
    Shape shape = first;
    shape.back() = total;
    Tensor<T> out = Tensor<T>::empty(shape);
    auto O = out.matrix(rows, total);
    std::int64_t col = 0;
    for (const Tensor<T>& p : parts) {
        O.middleCols(col, p.size(-1)) = p.matrix(rows, p.size(-1));
        col += p.size(-1);
    }
    record(out, "concat", parts, [parts, rows, total](const Tensor<T>& g) {
        auto G = g.matrix(rows, total);
        std::int64_t col = 0;
        for (const Tensor<T>& p : parts) {
            const std::int64_t width = p.size(-1);
            if (p.requires_grad()) p.add_to_grad(rows, width, G.middleCols(col, width));
            col += width;
        }
    });
    return out;
}

/// Columns [start, start + length) of the last dimension: (..., C) -> (..., length).
template <typename T>
Tensor<T> narrow_last(const Tensor<T>& a, std::int64_t start, std::int64_t length) {
    BABYGPT_CHECK(a.dim() >= 1, "narrow_last: needs at least 1 dimension");
    const std::int64_t C = a.size(-1);
    BABYGPT_CHECK(start >= 0 && length >= 0 && start + length <= C, "narrow_last: columns [", start, ", ",
                  start + length, ") are out of range for shape ", to_string(a.shape()));
    const std::int64_t rows = leading_numel(a.shape());
    Shape shape = a.shape();
    shape.back() = length;
    Tensor<T> out = Tensor<T>::empty(shape);
    out.matrix(rows, length) = a.matrix(rows, C).middleCols(start, length);
    record(out, "narrow_last", {a}, [a, rows, C, start, length](const Tensor<T>& g) {
        // Scattered: only these columns of `a` receive a gradient, so into the zero-filled buffer.
        a.grad_matrix(rows, C).middleCols(start, length) += g.matrix(rows, length);
    });
    return out;
}

/// Splits the last dimension into pieces of the given sizes (which must add up to it).
template <typename T>
std::vector<Tensor<T>> split(const Tensor<T>& a, const std::vector<std::int64_t>& sizes) {
    BABYGPT_CHECK(a.dim() >= 1, "split: needs at least 1 dimension");
    std::int64_t total = 0;
    for (std::int64_t s : sizes) total += s;
    BABYGPT_CHECK(total == a.size(-1), "split: sizes add up to ", total, " but the last dimension of ",
                  to_string(a.shape()), " is ", a.size(-1));
    std::vector<Tensor<T>> pieces;
    std::int64_t start = 0;
    for (std::int64_t s : sizes) {
        pieces.push_back(narrow_last(a, start, s));
        start += s;
    }
    return pieces;
}

/// Splits the last dimension into equal pieces of `size` columns (it must divide the dimension).
template <typename T>
std::vector<Tensor<T>> split(const Tensor<T>& a, std::int64_t size) {
    BABYGPT_CHECK(size > 0 && a.dim() >= 1 && a.size(-1) % size == 0, "split: the last dimension of ",
                  to_string(a.shape()), " does not split into pieces of ", size);
    return split(a, std::vector<std::int64_t>(static_cast<std::size_t>(a.size(-1) / size), size));
}

}  // namespace babygpt
