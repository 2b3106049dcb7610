#pragma once
// out (N, out_features) (+)= X (N, in) W^T for a few rows X: the products of generation, which runs
// one position of each sequence at a time (N = the batch, usually 1). Such a product does one
// multiply-add per weight it reads per row of X, so its speed is the speed at which memory delivers the
// weights; OpenBLAS's matrix-vector product (sgemv, where Eigen sends a one-row product) fell well
// short of that rate here. One dot product per weight row, all N rows of X against it while it is in
// L1, comes close to it (docs/performance.md, "Generation").
//
// Every element is one dot product by one thread, so the result does not depend on the thread count.

#include <cstdint>

#include <Eigen/Core>

#include "babygpt/parallel.hpp"

namespace babygpt::kernels {

/// Rows of X up to which product_nt (kernels/products.hpp) takes few_rows_times_transposed.
inline constexpr std::int64_t kFewRows = 4;

/// out (N, out_features) = X (N, in) W^T, or += when `accumulate`; X, W (out_features, in) and out dense
/// and row-major. Output columns are split across the threads when the product is large enough.
template <typename T>
void few_rows_times_transposed(const T* X, std::int64_t N, std::int64_t in, const T* W, std::int64_t out_features,
                               T* out, bool accumulate) {
    using Row = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    BABYGPT_OMP(parallel for schedule(static) if (out_features * in >= (std::int64_t(1) << 18)))
    for (std::int64_t j = 0; j < out_features; ++j) {
        const Row weights(W + j * in, in);  // row j of W: column j of the result
        for (std::int64_t r = 0; r < N; ++r) {
            const T dot = (weights * Row(X + r * in, in)).sum();
            T& o = out[r * out_features + j];
            o = accumulate ? o + dot : dot;
        }
    }
}

}  // namespace babygpt::kernels
