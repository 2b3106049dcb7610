#pragma once
// Causal attention of one head: the machinery of ops/attention.hpp's causal_self_attention, whose
// header comment has the maths. One entry point per direction, each choosing its algorithm:
//
//   attention_head_forward(head, out)    P = softmax(Q K^T * scale, causal), out = dropout(P) V
//   attention_head_backward(head, grad)  dQ, dK, dV from dO
//
//   - short contexts (T <= kShortContext, e.g. the v9 model's T = 8): plain loops under the causal mask
//     (kernels/attention_loops.hpp), with the common head sizes 8, 16, 32 and 64 as compile-time
//     constants. At these sizes a blocked GEMM spends more time packing its operands than multiplying.
//   - longer contexts: query rows in blocks of kQueryBlock. Rows i0 .. i0+rows-1 see keys 0 .. i0+rows-1
//     only, so each block's products skip the part of the (T, T) scores above the diagonal. The
//     probabilities are not kept (at v11, 100 MB a layer): the forward keeps each row's log-sum-exp
//     L_i = log sum_{j<=i} exp(S_ij), and the backward recomputes a block's P_ij = exp(S_ij - L_i) from
//     Q and K, one more (rows, keys) product per block, as memory-efficient attention does.
//
// A call touches only its head's slices: the op runs the heads of all batch entries in parallel.

#include <algorithm>
#include <cmath>
#include <cstdint>

#include <Eigen/Core>

#include "babygpt/kernels/attention_head.hpp"
#include "babygpt/kernels/attention_loops.hpp"
#include "babygpt/kernels/dispatch.hpp"
#include "babygpt/kernels/gemm.hpp"

namespace babygpt::kernels {

/// Query rows per block of the blocked kernels.
inline constexpr std::int64_t kQueryBlock = 64;

/// What the forward keeps of a head for its backward (AttentionHead::saved), in values: P (T, T) for a
/// short context, the rows' log-sum-exps (T) for a long one.
inline std::int64_t attention_saved_per_head(std::int64_t T) { return T > kShortContext ? T : T * T; }

/// The forward of a head with a long context, block by block of query rows. A block's probabilities
/// live in a scratch block only; the head keeps L_i, the log-sum-exp of row i's scaled scores.
template <typename Scalar>
void head_forward_blocked(const AttentionHead<Scalar>& head, HeadSlice<Scalar> out) {
    const std::int64_t T = head.T();
    const auto &Q = head.Q, &K = head.K, &V = head.V;
    auto L = head.row_logsumexp();  // (T)
    const HeadDropout<Scalar> drop = head.dropout;
    HeadMatrix<Scalar> P(std::min(kQueryBlock, T), T);  // one block's probabilities, (rows, keys) of it
    for (std::int64_t i0 = 0; i0 < T; i0 += kQueryBlock) {
        const std::int64_t rows = std::min(kQueryBlock, T - i0), keys = i0 + rows;
        auto Pb = P.topLeftCorner(rows, keys);
        Pb.noalias() = Q.middleRows(i0, rows) * K.topRows(keys).transpose();  // the scores, unscaled
        for (std::int64_t r = 0; r < rows; ++r) {  // masked, scaled softmax of row i over j <= i
            const std::int64_t i = i0 + r;
            auto row = Pb.row(r).head(i + 1).array();
            row *= head.scale;
            const Scalar m = row.maxCoeff();
            row = (row - m).exp();
            const Scalar sum = row.sum();
            row /= sum;
            L(i) = m + std::log(sum);
            Pb.row(r).tail(keys - i - 1).setZero();
        }
        if (drop.active())  // P' = dropout(P), in place: P itself is not needed again
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t j = 0; j <= i0 + r; ++j) Pb(r, j) *= drop(i0 + r, j);
        out.middleRows(i0, rows).noalias() = Pb * V.topRows(keys);
    }
}

/// The backward of a head with a long context: the forward's query blocks, last first, each block's
/// P recomputed from the scores and L. The last block reaches every key, so with a fresh buffer it
/// assigns dK and dV and the earlier (shorter) blocks add to them; each block assigns or adds its own
/// rows of dQ.
template <typename Scalar>
void head_backward_blocked(const AttentionHead<Scalar>& head, AttentionHeadGrad<Scalar> grad) {
    const std::int64_t T = head.T();
    const auto &Q = head.Q, &K = head.K, &V = head.V, &G = grad.dO;
    const auto L = head.row_logsumexp();
    auto &dQ = grad.dQ, &dK = grad.dK, &dV = grad.dV;
    const HeadDropout<Scalar> drop = head.dropout;
    HeadMatrix<Scalar> P(std::min(kQueryBlock, T), T);                                    // P of a block
    HeadMatrix<Scalar> dropped(drop.active() ? kQueryBlock : 0, drop.active() ? T : 0);  // P' of a block
    HeadMatrix<Scalar> dP(std::min(kQueryBlock, T), T);
    Eigen::Array<Scalar, Eigen::Dynamic, 1> row_dot(std::min(kQueryBlock, T));
    const std::int64_t last_i0 = (T - 1) / kQueryBlock * kQueryBlock;
    for (std::int64_t i0 = last_i0; i0 >= 0; i0 -= kQueryBlock) {
        const std::int64_t rows = std::min(kQueryBlock, T - i0), keys = i0 + rows;
        const bool assign = !grad.accumulate && i0 == last_i0;  // keys = T: all of dK and dV
        auto Pb = P.topLeftCorner(rows, keys);  // (rows, keys): P_ij = exp(S_ij * scale - L_i), j <= i
        Pb.noalias() = Q.middleRows(i0, rows) * K.topRows(keys).transpose();
        for (std::int64_t r = 0; r < rows; ++r) {
            const std::int64_t i = i0 + r;
            auto row = Pb.row(r).head(i + 1).array();
            row = (row * head.scale - L(i)).exp();
            Pb.row(r).tail(keys - i - 1).setZero();
        }
        const auto Gb = G.middleRows(i0, rows);  // (rows, hs)
        auto dPb = dP.topLeftCorner(rows, keys);
        dPb.noalias() = Gb * V.topRows(keys).transpose();
        if (drop.active()) {  // P' and dP = (G V^T) * mask
            auto Db = dropped.topLeftCorner(rows, keys);
            for (std::int64_t r = 0; r < rows; ++r)
                for (std::int64_t j = 0; j < keys; ++j) {
                    const Scalar f = j <= i0 + r ? drop(i0 + r, j) : Scalar(0);
                    Db(r, j) = Pb(r, j) * f;
                    dPb(r, j) *= f;
                }
            gemm_rows(dV.topRows(keys), Db.transpose(), Gb, !assign);  // dV = P'^T G
        } else {
            gemm_rows(dV.topRows(keys), Pb.transpose(), Gb, !assign);
        }
        // softmax backward, row by row; then the 1/sqrt(hs) of the scores.
        auto dot = row_dot.head(rows);
        dot = (dPb.array() * Pb.array()).rowwise().sum();
        dPb.array() = Pb.array() * (dPb.array().colwise() - dot) * head.scale;  // now dS * scale
        gemm_rows(dQ.middleRows(i0, rows), dPb, K.topRows(keys), grad.accumulate);  // dS K
        gemm_rows(dK.topRows(keys), dPb.transpose(), Q.middleRows(i0, rows), !assign);  // dS^T Q
    }
}

/// One head's forward: writes head.saved and out (T, hs).
template <typename Scalar>
void attention_head_forward(const AttentionHead<Scalar>& head, HeadSlice<Scalar> out) {
    if (head.T() > kShortContext) return head_forward_blocked(head, out);
    const bool fixed_size = with_constant<8, 16, 32, 64>(head.head_size(), [&](auto hs) {
        head_forward_loops<decltype(hs)::value>(head, out);
    });
    if (!fixed_size) head_forward_loops<0>(head, out);
}

/// One head's backward: assigns or adds (grad.accumulate) its contribution to dQ, dK and dV.
template <typename Scalar>
void attention_head_backward(const AttentionHead<Scalar>& head, AttentionHeadGrad<Scalar> grad) {
    if (head.T() > kShortContext) return head_backward_blocked(head, grad);
    const bool fixed_size = with_constant<8, 16, 32, 64>(head.head_size(), [&](auto hs) {
        head_backward_loops<decltype(hs)::value>(head, grad);
    });
    if (!fixed_size) head_backward_loops<0>(head, grad);
}

}  // namespace babygpt::kernels
