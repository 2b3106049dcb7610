#pragma once
// Causal attention of one head as plain loops, for short contexts (T <= kShortContext; the v9 model
// has T = 8, hs = 8). There, Eigen's blocked GEMM spends more time packing its operands than
// multiplying them; these loops do only the work under the causal mask (j <= i), with the innermost
// loop over the head dimension for the compiler to vectorise. Same maths as the blocked kernels in
// kernels/attention.hpp, term by term (ops/attention.hpp has the formulas).
//
// HS is the head size when it is one of the common ones, a compile-time constant the compiler unrolls
// and vectorises completely, and the running sums of a row stay in registers; else 0 and the head size
// is read at run time (head_size<HS>).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>

#include <Eigen/Core>

#include "babygpt/kernels/attention_head.hpp"
#include "babygpt/parallel.hpp"

namespace babygpt::kernels {

/// The longest context the loops serve: a backward keeps one row of P's gradient on the stack.
inline constexpr std::int64_t kShortContext = 32;

/// The head size: the template argument HS when it is non-zero, else the run-time value.
template <int HS>
constexpr std::int64_t head_size(std::int64_t hs) {
    return HS > 0 ? HS : hs;
}

template <typename Scalar>
Scalar dot(const Scalar* a, const Scalar* b, std::int64_t n) {
    Scalar s = 0;
    for (std::int64_t k = 0; k < n; ++k) s += a[k] * b[k];
    return s;
}

/// out[j] = a . B_j for rows B_j = B + j * ld, j < n. Four rows at a time: four independent sums
/// keep the floating-point adder busy instead of waiting on one chain.
template <int HS, typename Scalar>
void dots(const Scalar* a, const Scalar* B, std::int64_t ld, std::int64_t n, std::int64_t run_time_hs, Scalar* out) {
    const std::int64_t hs = head_size<HS>(run_time_hs);
    std::int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const Scalar *b0 = B + j * ld, *b1 = b0 + ld, *b2 = b1 + ld, *b3 = b2 + ld;
        Scalar s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (std::int64_t k = 0; k < hs; ++k) {
            s0 += a[k] * b0[k];
            s1 += a[k] * b1[k];
            s2 += a[k] * b2[k];
            s3 += a[k] * b3[k];
        }
        out[j] = s0;
        out[j + 1] = s1;
        out[j + 2] = s2;
        out[j + 3] = s3;
    }
    for (; j < n; ++j) out[j] = dot(a, B + j * ld, hs);
}

template <int HS, typename Scalar>
void add_scaled(Scalar* dst, Scalar w, const Scalar* src, std::int64_t run_time_n) {  // dst += w * src
    const std::int64_t n = head_size<HS>(run_time_n);
    BABYGPT_OMP(simd)
    for (std::int64_t k = 0; k < n; ++k) dst[k] += w * src[k];
}

/// P = softmax(Q K^T * scale, causal) and out = dropout(P) V for one head.
template <int HS, typename Scalar>
void head_forward_loops(AttentionHead<Scalar> head, HeadSlice<Scalar> out) {
    const Scalar *Q = head.Q.data(), *K = head.K.data(), *V = head.V.data();
    const std::int64_t ld = head.Q.outerStride(), ld_out = out.outerStride();  // K and V: ld too
    const std::int64_t T = head.T(), hs = head_size<HS>(head.head_size());
    const Scalar scale = head.scale;
    const HeadDropout<Scalar> drop = head.dropout;  // a local copy: stores to P or O cannot change it
    Scalar* P = head.saved;  // (T, T)
    Scalar* O = out.data();
    for (std::int64_t i = 0; i < T; ++i) {  // scaled scores minus the row max; the future masked
        Scalar* p = P + i * T;
        dots<HS>(Q + i * ld, K, ld, i + 1, hs, p);
        Scalar max = -std::numeric_limits<Scalar>::infinity();
        for (std::int64_t j = 0; j <= i; ++j) {
            p[j] *= scale;
            max = p[j] > max ? p[j] : max;
        }
        for (std::int64_t j = 0; j <= i; ++j) p[j] -= max;
        for (std::int64_t j = i + 1; j < T; ++j) p[j] = -std::numeric_limits<Scalar>::infinity();
    }
    // One vectorised exp over the whole (T, T) block; the masked entries become exactly 0.
    Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> block(P, T * T);
    block = block.exp();
    for (std::int64_t i = 0; i < T; ++i) {
        Scalar* p = P + i * T;
        Scalar sum = 0;
        for (std::int64_t j = 0; j <= i; ++j) sum += p[j];
        const Scalar inv = Scalar(1) / sum;
        for (std::int64_t j = 0; j <= i; ++j) p[j] *= inv;
        Scalar* o = O + i * ld_out;
        if constexpr (HS > 0) {  // the running sum in registers, not a store and a reload per term
            Scalar acc[HS] = {};
            for (std::int64_t j = 0; j <= i; ++j) {
                const Scalar w = p[j] * drop(i, j);
                const Scalar* v = V + j * ld;
                for (int k = 0; k < HS; ++k) acc[k] += w * v[k];
            }
            std::copy_n(acc, HS, o);
        } else {
            std::fill_n(o, hs, Scalar(0));
            for (std::int64_t j = 0; j <= i; ++j) {
                const Scalar w = p[j] * drop(i, j);
                if (w != Scalar(0)) add_scaled<HS>(o, w, V + j * ld, hs);
            }
        }
    }
}

/// Adds one head's contribution to dQ, dK and dV from dO, or assigns it to a fresh buffer
/// (grad.accumulate false: zero-filled first, as the loops add term by term). The formulas are
/// ops/attention.hpp's.
template <int HS, typename Scalar>
void head_backward_loops(const AttentionHead<Scalar>& head, AttentionHeadGrad<Scalar> grad) {
    const Scalar *Q = head.Q.data(), *K = head.K.data(), *V = head.V.data();
    const std::int64_t ld = head.Q.outerStride(), ld_out = grad.dO.outerStride();  // K, V, dQ, dK, dV: ld too
    const std::int64_t T = head.T(), hs = head_size<HS>(head.head_size());
    const Scalar scale = head.scale;
    const HeadDropout<Scalar> drop = head.dropout;  // a local copy: stores to the gradients cannot change it
    const Scalar* P = head.saved;  // (T, T)
    const Scalar* G = grad.dO.data();
    Scalar *dQ = grad.dQ.data(), *dK = grad.dK.data(), *dV = grad.dV.data();
    if (!grad.accumulate)  // HS known: a few vector stores per row, not a call to memset
        for (std::int64_t t = 0; t < T; ++t)
            for (Scalar* row : {dQ + t * ld, dK + t * ld, dV + t * ld}) std::fill_n(row, hs, Scalar(0));
    Scalar dp[kShortContext];  // row i of dP
    for (std::int64_t i = 0; i < T; ++i) {
        const Scalar* p = P + i * T;
        const Scalar* g = G + i * ld_out;
        Scalar row_dot = 0;
        dots<HS>(g, V, ld, i + 1, hs, dp);  // G V^T
        for (std::int64_t j = 0; j <= i; ++j) {
            const Scalar f = drop(i, j);
            dp[j] *= f;  // dP = (G V^T) * mask
            if (p[j] * f != Scalar(0)) add_scaled<HS>(dV + j * ld, p[j] * f, g, hs);  // dV += P'^T G
            row_dot += dp[j] * p[j];
        }
        if constexpr (HS > 0) {  // row i of dQ summed in registers (see head_forward_loops)
            Scalar dq[HS];
            std::copy_n(dQ + i * ld, HS, dq);
            for (std::int64_t j = 0; j <= i; ++j) {
                const Scalar ds = p[j] * (dp[j] - row_dot) * scale;  // softmax backward, then the scale
                const Scalar* k_row = K + j * ld;
                BABYGPT_OMP(simd)
                for (int k = 0; k < HS; ++k) dq[k] += ds * k_row[k];  // dQ = dS K
                add_scaled<HS>(dK + j * ld, ds, Q + i * ld, hs);         // dK = dS^T Q
            }
            std::copy_n(dq, HS, dQ + i * ld);
        } else {
            for (std::int64_t j = 0; j <= i; ++j) {
                const Scalar ds = p[j] * (dp[j] - row_dot) * scale;
                if (ds == Scalar(0)) continue;
                add_scaled<HS>(dQ + i * ld, ds, K + j * ld, hs);
                add_scaled<HS>(dK + j * ld, ds, Q + i * ld, hs);
            }
        }
    }
}

}  // namespace babygpt::kernels
