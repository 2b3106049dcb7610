#pragma once
// Matrix products.
//
// matmul(a, b) covers the two forms a transformer needs:
//   (..., M, K) @ (K, N) -> (..., M, N): every leading dimension of `a` folds into the rows, so
//       (B, T, C) @ (C, D) is ONE (B*T, C) x (C, D) Eigen GEMM, never a loop over rows or batches.
//   (..., M, K) @ (..., K, N) -> (..., M, N) with equal leading (batch) dimensions: one GEMM per batch
//       entry, e.g. attention scores (B, T, hs) @ (B, hs, T).
// Backward, from c_ij = sum_k a_ik b_kj:  dA = dC B^T and dB = A^T dC, again one GEMM each for the 2-d
// right operand. The GEMMs are kernels/products.hpp's gemm_into (split by rows across the threads).

#include "babygpt/autograd.hpp"
#include "babygpt/kernels/products.hpp"
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
        kernels::gemm_into(kernels::Output<T>{out.matrix(rows, N)}, a.matrix(rows, K), b.matrix(K, N));
        record(out, "matmul", {a, b}, [a, b, rows, K, N](const Tensor<T>& g) {
            const MatrixMap G = g.matrix(rows, N);
            if (a.requires_grad())  // dA += dC B^T
                kernels::gemm_into(a.grad_target(rows, K), G, b.matrix(K, N).transpose());
            if (b.requires_grad())  // dB += A^T dC
                kernels::gemm_into(b.grad_target(K, N), a.matrix(rows, K).transpose(), G);
        });
        return out;
    }

    BABYGPT_CHECK(a.dim() == b.dim() && std::equal(a.shape().begin(), a.shape().end() - 2, b.shape().begin()),
                  "matmul: ", to_string(a.shape()), " @ ", to_string(b.shape()),
                  ": batch dimensions differ (batched matmul needs equal leading dimensions, or a 2-d right operand)");
    const std::int64_t batch = numel(Shape(a.shape().begin(), a.shape().end() - 2));
    // Batch entry i: rows i*M .. of a viewed as (batch*M, K), rows i*K .. of b as (batch*K, N), and so on.
    auto entry = [](auto& all, std::int64_t i, std::int64_t rows) { return all.middleRows(i * rows, rows); };
    Tensor<T> out = Tensor<T>::empty(out_shape);
    const MatrixMap A = a.matrix(batch * M, K), B = b.matrix(batch * K, N);
    MatrixMap C = out.matrix(batch * M, N);
    for (std::int64_t i = 0; i < batch; ++i) entry(C, i, M).noalias() = entry(A, i, M) * entry(B, i, K);  // C_i = A_i B_i
    record(out, "bmm", {a, b}, [a, b, batch, M, K, N, entry](const Tensor<T>& g) {
        const MatrixMap G = g.matrix(batch * M, N), A = a.matrix(batch * M, K), B = b.matrix(batch * K, N);
        if (a.requires_grad()) {  // dA_i += dC_i B_i^T
            auto dA = a.grad_target(batch * M, K);
            for (std::int64_t i = 0; i < batch; ++i)
                kernels::assign_or_add(entry(dA.matrix, i, M), entry(G, i, M) * entry(B, i, K).transpose(),
                                       dA.accumulate);
        }
        if (b.requires_grad()) {  // dB_i += A_i^T dC_i
            auto dB = b.grad_target(batch * K, N);
            for (std::int64_t i = 0; i < batch; ++i)
                kernels::assign_or_add(entry(dB.matrix, i, K), entry(A, i, M).transpose() * entry(G, i, M),
                                       dB.accumulate);
        }
    });
    return out;
}

}  // namespace babygpt
