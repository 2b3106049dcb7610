#pragma once
// The model's big matrix products, split by rows of the result across the OpenMP threads: each thread
// runs one single-threaded GEMM (Eigen's, or OpenBLAS's when Eigen hands its products to it) on its own
// rows. Two reasons for doing the split here rather than inside the GEMM:
//   - one thread pool: a BLAS with its own threads would compete with the OpenMP loops of the other
//     ops for the same cores (docs/performance.md has what that cost);
//   - every element of the result is one thread's full dot product, so a run is bit-identical to any
//     other with the same thread count.

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "babygpt/parallel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace babygpt::kernels {

/// dst = alpha * lhs * rhs, or dst += alpha * lhs * rhs when `accumulate`. dst is (M, N), lhs (M, K),
/// rhs (K, N): any Eigen expressions with direct access (maps, blocks, transposes of them).
template <typename Dst, typename Lhs, typename Rhs>
void gemm_rows(Dst&& dst, const Lhs& lhs, const Rhs& rhs, bool accumulate,
               typename std::decay_t<Dst>::Scalar alpha = 1) {
    auto product = [&](auto&& d, const auto& l) {
        if (accumulate) d.noalias() += alpha * (l * rhs);
        else d.noalias() = alpha * (l * rhs);
    };
    const std::int64_t M = dst.rows();
    std::int64_t parts = 1;
#ifdef _OPENMP
    // Threads pay off from about a quarter million multiply-adds, and with at least 16 rows each.
    const std::int64_t work = M * static_cast<std::int64_t>(dst.cols()) * static_cast<std::int64_t>(lhs.cols());
    if (!omp_in_parallel() && work >= (std::int64_t(1) << 18))
        parts = std::min<std::int64_t>(omp_get_max_threads(), M / 16);
#endif
    if (parts <= 1) {
        product(dst, lhs);
        return;
    }
    BABYGPT_OMP(parallel for schedule(static) num_threads(static_cast<int>(parts)))
    for (std::int64_t p = 0; p < parts; ++p) {
        const std::int64_t r0 = M * p / parts, rows = M * (p + 1) / parts - r0;
        product(dst.middleRows(r0, rows), lhs.middleRows(r0, rows));
    }
}

}  // namespace babygpt::kernels
