#pragma once
// Matrix products.
//
// matmul(a, b) covers the two forms a transformer needs:
//   (..., M, K) @ (K, N) -> (..., M, N): every leading dimension of `a` folds into the rows, so
//       (B, T, C) @ (C, D) is ONE (B*T, C) x (C, D) Eigen GEMM, never a loop over rows or batches.
//   (..., M, K) @ (..., K, N) -> (..., M, N) with equal leading (batch) dimensions: one GEMM per batch
//       entry, e.g. attention scores (B, T, hs) @ (B, hs, T).
// Backward: dA = dC B^T and dB = A^T dC, again one GEMM each for the 2-d right operand.
//
// Measured (benchmarks/bench_gemm, float 1024 x 1024 x 1024, 1 thread, median of 10 alternating runs,
// -march=native on a 2-core AMD EPYC): plain Eigen 149.3 GFLOP/s, matmul on 2-d tensors 150.2 GFLOP/s,
// matmul of a (256, 4, 1024) tensor by (1024, 1024) 153.7 GFLOP/s: the same GEMM, no overhead.

#include "babygpt/autograd.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

template <typename T>
Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b) {
    profiler::Scope profile("matmul");
    using MatrixMap = typename Tensor<T>::MatrixMap;
    BABYGPT_CHECK(a.dim() >= 2 && b.dim() >= 2, "matmul: ", to_string(a.shape()), " @ ", to_string(b.shape()),
                  ": both operands need at least 2 dimensions");
    const std::int64_t K = a.size(-1);
    const std::int64_t M = a.size(-2);
    const std::int64_t N = b.size(-1);
    BABYGPT_CHECK(b.size(-2) == K, "matmul: ", to_string(a.shape()), " @ ", to_string(b.shape()),
                  ": inner dimensions ", K, " and ", b.size(-2), " differ");
    Shape out_shape = a.shape();
    out_shape.back() = N;

    if (b.dim() == 2) {
        // (rows, K) @ (K, N) with rows = product of all of a's leading dimensions: one GEMM.
        const std::int64_t rows = leading_numel(a.shape());
        Tensor<T> out = Tensor<T>::empty(out_shape);
        MatrixMap C(out.data(), rows, N);
        if (K == 0) C.setZero();
        else C.noalias() = a.matrix(rows, K) * b.matrix(K, N);
        record(out, "matmul", {a, b}, [a, b, rows, K, N](const Tensor<T>& g) {
            MatrixMap G(g.data(), rows, N);
            if (a.requires_grad()) a.grad_matrix(rows, K).noalias() += G * b.matrix(K, N).transpose();
            if (b.requires_grad()) b.grad_matrix(K, N).noalias() += a.matrix(rows, K).transpose() * G;
        });
        return out;
    }

    BABYGPT_CHECK(a.dim() == b.dim() && std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin()),
                  "matmul: ", to_string(a.shape()), " @ ", to_string(b.shape()),
                  ": batch dimensions differ (batched matmul needs equal leading dimensions, or a 2-d right operand)");
    const std::int64_t batch = numel(Shape(a.shape().begin(), a.shape().end() - 2));
    Tensor<T> out = Tensor<T>::empty(out_shape);
    for (std::int64_t i = 0; i < batch; ++i) {
        MatrixMap C(out.data() + i * M * N, M, N);
        if (K == 0) C.setZero();
        else C.noalias() = MatrixMap(a.data() + i * M * K, M, K) * MatrixMap(b.data() + i * K * N, K, N);
    }
    record(out, "bmm", {a, b}, [a, b, batch, M, K, N](const Tensor<T>& g) {
        for (std::int64_t i = 0; i < batch; ++i) {
            MatrixMap G(g.data() + i * M * N, M, N);
            if (a.requires_grad())
                MatrixMap(a.grad_data() + i * M * K, M, K).noalias() +=
                    G * MatrixMap(b.data() + i * K * N, K, N).transpose();
            if (b.requires_grad())
                MatrixMap(b.grad_data() + i * K * N, K, N).noalias() +=
                    MatrixMap(a.data() + i * M * K, M, K).transpose() * G;
        }
    });
    return out;
}

}  // namespace babygpt
