#pragma once
// Fused causal self-attention over all heads, from one packed QKV projection.
//
// For every batch entry b and head h (hs = C / nh, scale = 1 / sqrt(hs)):
//   S = Q K^T * scale                   (T, T)   attention scores
//   P = softmax(S with j > i masked)    (T, T)   each row sums to 1 over positions j <= i
//   P' = dropout(P)                     (T, T)   training only
//   O = P' V                            (T, hs)  written into columns h*hs.. of the (B, T, C) output
// This equals the reference's per-head Head modules followed by concatenation, without building the
// (B, nh, T, T) intermediates as separate tensors and graph nodes.
//
// Backward, with G = dO (T, hs):
//   dV = P'^T G,   dP' = G V^T,   dP = dP' * dropout mask,
//   dS = P * (dP - rowsum(dP * P)) * scale     (softmax backward; zero above the diagonal as P is)
//   dQ = dS K,     dK = dS^T Q

#include <cmath>
#include <optional>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/ops/attention_loops.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// qkv (B, T, 3C) packed as [queries of all heads | keys | values], head h of each part in columns
/// h*hs .. (h+1)*hs -> (B, T, C) with the heads' outputs side by side.
template <typename T>
Tensor<T> causal_self_attention(const Tensor<T>& qkv, std::int64_t n_head, double dropout_p, bool training,
                                Generator& gen) {
    profiler::Scope profile("causal_self_attention");
    BABYGPT_CHECK(qkv.dim() == 3 && qkv.size(-1) % 3 == 0, "causal_self_attention: qkv must be (B, T, 3C), got ",
                  to_string(qkv.shape()));
    const std::int64_t B = qkv.size(0), Tn = qkv.size(1), C = qkv.size(2) / 3;
    BABYGPT_CHECK(n_head > 0 && C % n_head == 0, "causal_self_attention: C = ", C,
                  " is not divisible by n_head = ", n_head);
    BABYGPT_CHECK(dropout_p >= 0.0 && dropout_p < 1.0, "causal_self_attention: dropout must be in [0, 1), got ",
                  dropout_p);
    const std::int64_t hs = C / n_head, TT = Tn * Tn;
    const T scale = T(1) / std::sqrt(static_cast<T>(hs));
    const bool use_dropout = training && dropout_p > 0.0;
    const bool short_context = Tn <= 32;  // plain loops (attention_loops.hpp) beat blocked GEMM there

    using Matrix = typename Tensor<T>::Matrix;
    using Strided = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;  // a head's (T, hs) slice of a wider row
    using Square = Eigen::Map<Matrix>;                               // one (T, T) attention matrix

    Tensor<T> probs = Tensor<T>::empty({B, n_head, Tn, Tn});  // P, kept for backward
    // Dropout on P: a hashed mask (see ops/dropout.hpp), recomputed in backward rather than stored.
    const std::optional<detail::DropoutMask> mask =
        use_dropout ? std::optional<detail::DropoutMask>(detail::DropoutMask(dropout_p, gen)) : std::nullopt;
    const T keep_scale = static_cast<T>(1.0 / (1.0 - dropout_p));
    // P' = dropout(P) for batch entry and head `bh`, into `dropped`.
    auto apply_dropout = [&mask, keep_scale, Tn, TT](std::int64_t bh, const Square& P, Matrix& dropped) {
        for (std::int64_t i = 0; i < Tn; ++i)
            for (std::int64_t j = 0; j < Tn; ++j)
                dropped(i, j) = mask->keep(static_cast<std::uint64_t>(bh * TT + i * Tn + j)) ? P(i, j) * keep_scale : T(0);
    };
    Tensor<T> out = Tensor<T>::empty({B, Tn, C});
    // Every (batch entry, head) pair is independent and writes its own slices: one task each.
#pragma omp parallel if (B * n_head > 1)
    {
        Matrix dropped(use_dropout ? Tn : 0, use_dropout ? Tn : 0);
#pragma omp for schedule(static)
        for (std::int64_t bh = 0; bh < B * n_head; ++bh) {
            const std::int64_t b = bh / n_head, h = bh % n_head;
            T* row0 = qkv.data() + b * Tn * 3 * C + h * hs;
            if (short_context) {
                auto drop = [&](std::int64_t i, std::int64_t j) {
                    if (!use_dropout) return T(1);
                    return mask->keep(static_cast<std::uint64_t>(bh * TT + i * Tn + j)) ? keep_scale : T(0);
                };
                detail::head_forward_loops(row0, row0 + C, row0 + 2 * C, 3 * C, Tn, hs, scale, probs.data() + bh * TT,
                                           out.data() + b * Tn * C + h * hs, C, drop);
                continue;
            }
            Strided Q(row0, Tn, hs, Eigen::OuterStride<>(3 * C));
            Strided K(row0 + C, Tn, hs, Eigen::OuterStride<>(3 * C));
            Strided V(row0 + 2 * C, Tn, hs, Eigen::OuterStride<>(3 * C));
            Square P(probs.data() + bh * TT, Tn, Tn);
            P.noalias() = Q * K.transpose();
            for (std::int64_t i = 0; i < Tn; ++i) {  // masked, scaled softmax of row i over j <= i
                auto row = P.row(i).head(i + 1).array();
                row *= scale;
                row = (row - row.maxCoeff()).exp();
                row /= row.sum();
                P.row(i).tail(Tn - i - 1).setZero();
            }
            Strided O(out.data() + b * Tn * C + h * hs, Tn, hs, Eigen::OuterStride<>(C));
            if (use_dropout) {
                apply_dropout(bh, P, dropped);
                O.noalias() = dropped * V;
            } else {
                O.noalias() = P * V;
            }
        }
    }

    record(out, "causal_self_attention", {qkv},
           [qkv, probs, mask, keep_scale, B, Tn, C, n_head, hs, TT, scale, short_context](const Tensor<T>& g) {
        const bool use_dropout = mask.has_value();
        // Each (batch entry, head) owns its q, k and v columns of dqkv: if the buffer is new, the blocks
        // below can assign their results instead of adding them to zeros.
        const bool fresh = !qkv.has_grad();
        T* dqkv = fresh ? qkv.new_grad_data() : qkv.grad_data();
#pragma omp parallel if (B * n_head > 1)
        {
            Matrix dropped(use_dropout ? Tn : 0, use_dropout ? Tn : 0), dP(Tn, Tn);
            Eigen::Array<T, Eigen::Dynamic, 1> row_dot(Tn);
#pragma omp for schedule(static)
            for (std::int64_t bh = 0; bh < B * n_head; ++bh) {
                const std::int64_t b = bh / n_head, h = bh % n_head;
                const std::int64_t offset = b * Tn * 3 * C + h * hs;
                if (short_context) {
                    if (fresh)
                        for (std::int64_t t = 0; t < Tn; ++t)
                            for (std::int64_t part = 0; part < 3; ++part)
                                std::fill_n(dqkv + offset + t * 3 * C + part * C, hs, T(0));
                    auto drop = [&](std::int64_t i, std::int64_t j) {
                        if (!use_dropout) return T(1);
                        return mask->keep(static_cast<std::uint64_t>(bh * TT + i * Tn + j)) ? keep_scale : T(0);
                    };
                    const T* base = qkv.data() + offset;
                    detail::head_backward_loops(base, base + C, base + 2 * C, dqkv + offset, dqkv + offset + C,
                                                dqkv + offset + 2 * C, 3 * C, Tn, hs, scale, probs.data() + bh * TT,
                                                g.data() + b * Tn * C + h * hs, C, drop, row_dot.data());
                    continue;
                }
                Strided Q(qkv.data() + offset, Tn, hs, Eigen::OuterStride<>(3 * C));
                Strided K(qkv.data() + offset + C, Tn, hs, Eigen::OuterStride<>(3 * C));
                Strided V(qkv.data() + offset + 2 * C, Tn, hs, Eigen::OuterStride<>(3 * C));
                Strided dQ(dqkv + offset, Tn, hs, Eigen::OuterStride<>(3 * C));
                Strided dK(dqkv + offset + C, Tn, hs, Eigen::OuterStride<>(3 * C));
                Strided dV(dqkv + offset + 2 * C, Tn, hs, Eigen::OuterStride<>(3 * C));
                Strided G(g.data() + b * Tn * C + h * hs, Tn, hs, Eigen::OuterStride<>(C));
                Square P(probs.data() + bh * TT, Tn, Tn);
                dP.noalias() = G * V.transpose();
                if (use_dropout) {
                    for (std::int64_t i = 0; i < Tn; ++i)
                        for (std::int64_t j = 0; j < Tn; ++j) {
                            const bool keep = mask->keep(static_cast<std::uint64_t>(bh * TT + i * Tn + j));
                            dropped(i, j) = keep ? P(i, j) * keep_scale : T(0);
                            dP(i, j) = keep ? dP(i, j) * keep_scale : T(0);
                        }
                    if (fresh) dV.noalias() = dropped.transpose() * G;
                    else dV.noalias() += dropped.transpose() * G;
                } else {
                    if (fresh) dV.noalias() = P.transpose() * G;
                    else dV.noalias() += P.transpose() * G;
                }
                // softmax backward, row by row; then the 1/sqrt(hs) of the scores.
                row_dot = (dP.array() * P.array()).rowwise().sum();
                dP.array() = P.array() * (dP.array().colwise() - row_dot) * scale;  // now dS
                if (fresh) {
                    dQ.noalias() = dP * K;
                    dK.noalias() = dP.transpose() * Q;
                } else {
                    dQ.noalias() += dP * K;
                    dK.noalias() += dP.transpose() * Q;
                }
            }
        }
    });
    return out;
}

}  // namespace babygpt
