#pragma once
// Fused causal self-attention over all heads, from one packed QKV projection.
//
// For every batch entry b and head h (hs = C / nh, scale = 1 / sqrt(hs)):
//   S = Q K^T * scale                   (T, T)   attention scores
//   P = softmax(S with j > i masked)    (T, T)   each row sums to 1 over positions j <= i
//   P' = dropout(P)                     (T, T)   training only
//   O = P' V                            (T, hs)  written into columns h*hs.. of the (B, T, C) output
// This equals the reference's per-head Head modules followed by concatenation, without building the
// (B, nh, T, T) intermediates as separate tensors and graph nodes. Query rows go in blocks of
// kQueryBlock, each multiplied only with the keys it can see, so the products skip the blocks above the
// diagonal; short contexts use plain loops instead (attention_loops.hpp).
//
// Backward, with G = dO (T, hs):
//   dV = P'^T G,   dP' = G V^T,   dP = dP' * dropout mask,
//   dS = P * (dP - rowsum(dP * P)) * scale     (softmax backward; zero above the diagonal as P is)
//   dQ = dS K,     dK = dS^T Q

#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/ops/attention_loops.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/ops/gemm.hpp"
#include "babygpt/parallel.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// Query rows per block in the GEMM path of causal_self_attention.
inline constexpr std::int64_t kQueryBlock = 64;

namespace detail {

/// Dropout on the attention probabilities P (B * nh, T, T): the factor of P[bh][i][j], 1 without
/// dropout, else 0 or 1 / (1 - p). The mask is hashed (see ops/dropout.hpp), so backward recomputes it
/// instead of storing it.
template <typename T>
struct AttentionDropout {
    std::optional<DropoutMask> mask;  // empty: no dropout
    T keep_scale = 1;
    std::int64_t Tn = 0;

    T operator()(std::int64_t bh, std::int64_t i, std::int64_t j) const {
        if (!mask) return T(1);
        return mask->keep(static_cast<std::uint64_t>((bh * Tn + i) * Tn + j)) ? keep_scale : T(0);
    }
};

}  // namespace detail

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
    detail::AttentionDropout<T> drop_factor;
    if (use_dropout) drop_factor = {detail::DropoutMask(dropout_p, gen), static_cast<T>(1.0 / (1.0 - dropout_p)), Tn};
    const bool short_context = Tn <= 32;  // plain loops (attention_loops.hpp) beat blocked GEMM there

    using Matrix = typename Tensor<T>::Matrix;
    using Strided = Eigen::Map<Matrix, 0, Eigen::OuterStride<>>;  // a head's (T, hs) slice of a wider row
    using Square = Eigen::Map<Matrix>;                               // one (T, T) attention matrix

    Tensor<T> probs = Tensor<T>::empty({B, n_head, Tn, Tn});  // P, kept for backward
    Tensor<T> out = Tensor<T>::empty({B, Tn, C});
    // Every (batch entry, head) pair is independent and writes its own slices: one task each.
    BABYGPT_OMP(parallel if (B * n_head > 1))
    {
        Matrix dropped(use_dropout ? kQueryBlock : 0, use_dropout ? Tn : 0);
        BABYGPT_OMP(for schedule(static))
        for (std::int64_t bh = 0; bh < B * n_head; ++bh) {
            const std::int64_t b = bh / n_head, h = bh % n_head;
            T* row0 = qkv.data() + b * Tn * 3 * C + h * hs;
            if (short_context) {
                auto drop = [&](std::int64_t i, std::int64_t j) { return drop_factor(bh, i, j); };
                detail::with_head_size(hs, [&](auto HS) {
                    detail::head_forward_loops<decltype(HS)::value>(row0, row0 + C, row0 + 2 * C, 3 * C, Tn, hs, scale,
                                                                    probs.data() + bh * TT,
                                                                    out.data() + b * Tn * C + h * hs, C, drop);
                });
                continue;
            }
            Strided Q(row0, Tn, hs, Eigen::OuterStride<>(3 * C));
            Strided K(row0 + C, Tn, hs, Eigen::OuterStride<>(3 * C));
            Strided V(row0 + 2 * C, Tn, hs, Eigen::OuterStride<>(3 * C));
            Square P(probs.data() + bh * TT, Tn, Tn);
            Strided O(out.data() + b * Tn * C + h * hs, Tn, hs, Eigen::OuterStride<>(C));
            // Query rows in blocks: rows i0 .. i0+rows-1 see keys 0 .. i0+rows-1 only, so the GEMMs skip
            // the blocks above the diagonal (about 40% of the products at T = 256).
            for (std::int64_t i0 = 0; i0 < Tn; i0 += kQueryBlock) {
                const std::int64_t rows = std::min(kQueryBlock, Tn - i0), keys = i0 + rows;
                auto S = P.block(i0, 0, rows, keys);  // (rows, keys)
                S.noalias() = Q.middleRows(i0, rows) * K.topRows(keys).transpose();
                for (std::int64_t r = 0; r < rows; ++r) {  // masked, scaled softmax of row i over j <= i
                    const std::int64_t i = i0 + r;
                    auto row = P.row(i).head(i + 1).array();
                    row *= scale;
                    row = (row - row.maxCoeff()).exp();
                    row /= row.sum();
                    P.row(i).tail(Tn - i - 1).setZero();
                }
                if (use_dropout) {  // P' = dropout(P), drawn only under the diagonal (P is zero above it)
                    auto D = dropped.topLeftCorner(rows, keys);
                    for (std::int64_t r = 0; r < rows; ++r)
                        for (std::int64_t j = 0; j < keys; ++j) D(r, j) = j <= i0 + r ? S(r, j) * drop_factor(bh, i0 + r, j) : T(0);
                    O.middleRows(i0, rows).noalias() = D * V.topRows(keys);
                } else {
                    O.middleRows(i0, rows).noalias() = S * V.topRows(keys);
                }
            }
        }
    }

    record(out, "causal_self_attention", {qkv},
           [qkv, probs, drop_factor, B, Tn, C, n_head, hs, TT, scale, short_context](const Tensor<T>& g) {
        const bool use_dropout = drop_factor.mask.has_value();
        // Each (batch entry, head) owns its q, k and v columns of dqkv: if the buffer is new, the blocks
        // below can assign their results instead of adding them to zeros.
        auto [dqkv_matrix, accumulate] = qkv.grad_target(B * Tn, 3 * C);
        const bool fresh = !accumulate;
        T* dqkv = dqkv_matrix.data();
        BABYGPT_OMP(parallel if (B * n_head > 1))
        {
            Matrix dropped(use_dropout ? kQueryBlock : 0, use_dropout ? Tn : 0), dP(std::min(kQueryBlock, Tn), Tn);
            Eigen::Array<T, Eigen::Dynamic, 1> row_dot(Tn);
            BABYGPT_OMP(for schedule(static))
            for (std::int64_t bh = 0; bh < B * n_head; ++bh) {
                const std::int64_t b = bh / n_head, h = bh % n_head;
                const std::int64_t offset = b * Tn * 3 * C + h * hs;
                if (short_context) {
                    if (fresh)
                        for (std::int64_t t = 0; t < Tn; ++t)
                            for (std::int64_t part = 0; part < 3; ++part)
                                std::fill_n(dqkv + offset + t * 3 * C + part * C, hs, T(0));
                    auto drop = [&](std::int64_t i, std::int64_t j) { return drop_factor(bh, i, j); };
                    const T* base = qkv.data() + offset;
                    detail::with_head_size(hs, [&](auto HS) {
                        detail::head_backward_loops<decltype(HS)::value>(
                            base, base + C, base + 2 * C, dqkv + offset, dqkv + offset + C, dqkv + offset + 2 * C,
                            3 * C, Tn, hs, scale, probs.data() + bh * TT, g.data() + b * Tn * C + h * hs, C, drop,
                            row_dot.data());
                    });
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
                // The forward's query blocks, last first: the last block reaches every key, so with a
                // fresh buffer it assigns dK and dV and the earlier (shorter) blocks add to them.
                const std::int64_t last_i0 = (Tn - 1) / kQueryBlock * kQueryBlock;
                for (std::int64_t i0 = last_i0; i0 >= 0; i0 -= kQueryBlock) {
                    const std::int64_t rows = std::min(kQueryBlock, Tn - i0), keys = i0 + rows;
                    const bool assign = fresh && i0 == last_i0;
                    const auto Pb = P.block(i0, 0, rows, keys);  // (rows, keys)
                    const auto Gb = G.middleRows(i0, rows);      // (rows, hs)
                    auto dPb = dP.topLeftCorner(rows, keys);
                    dPb.noalias() = Gb * V.topRows(keys).transpose();
                    // The last block has keys = T, so dV.topRows(keys) is all of dV when it assigns.
                    if (use_dropout) {  // P' and dP = (G V^T) * mask
                        auto Db = dropped.topLeftCorner(rows, keys);
                        for (std::int64_t r = 0; r < rows; ++r)
                            for (std::int64_t j = 0; j < keys; ++j) {
                                const T f = j <= i0 + r ? drop_factor(bh, i0 + r, j) : T(0);
                                Db(r, j) = Pb(r, j) * f;
                                dPb(r, j) *= f;
                            }
                        detail::gemm_rows(dV.topRows(keys), Db.transpose(), Gb, !assign);
                    } else {
                        detail::gemm_rows(dV.topRows(keys), Pb.transpose(), Gb, !assign);
                    }
                    // softmax backward, row by row; then the 1/sqrt(hs) of the scores.
                    auto dot = row_dot.head(rows);
                    dot = (dPb.array() * Pb.array()).rowwise().sum();
                    dPb.array() = Pb.array() * (dPb.array().colwise() - dot) * scale;  // now dS
                    detail::gemm_rows(dQ.middleRows(i0, rows), dPb, K.topRows(keys), !fresh);
                    detail::gemm_rows(dK.topRows(keys), dPb.transpose(), Q.middleRows(i0, rows), !assign);
                }
            }
        }
    });
    return out;
}

}  // namespace babygpt
