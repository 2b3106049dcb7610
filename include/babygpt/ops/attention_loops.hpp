#pragma once
// Causal attention of one head as plain loops, for short contexts (the v9 model has T = 8, hs = 8).
// There, Eigen's blocked GEMM spends more time packing its operands than multiplying them; these loops
// do only the work under the causal mask (j <= i), with the innermost loop over the head dimension for
// the compiler to vectorise. Same maths as the GEMM path in attention.hpp, term by term.
//
// Layouts: row t of Q, K, V (and dQ, dK, dV) starts at t * ld; rows of the output (and of its gradient G)
// at t * ld_out; P is (T, T) row-major with zeros above the diagonal. drop(i, j) is the dropout factor
// of P[i][j]: 1 without dropout, else 0 or 1 / (1 - p).

#include <cmath>
#include <cstdint>
#include <algorithm>
#include <limits>
#include <type_traits>

#include <Eigen/Core>

#include "babygpt/parallel.hpp"

namespace babygpt::detail {

/// The head size: the template argument HS when it is non-zero (a compile-time constant the compiler
/// unrolls and vectorises completely), else the run-time value.
template <int HS>
constexpr std::int64_t head_size(std::int64_t hs) {
    return HS > 0 ? HS : hs;
}

/// Calls f(std::integral_constant<int, HS>()) with HS = hs for the common head sizes, else HS = 0.
template <typename F>
void with_head_size(std::int64_t hs, F&& f) {
    switch (hs) {
        case 8: return f(std::integral_constant<int, 8>());
        case 16: return f(std::integral_constant<int, 16>());
        case 32: return f(std::integral_constant<int, 32>());
        case 64: return f(std::integral_constant<int, 64>());
        default: return f(std::integral_constant<int, 0>());
    }
}

template <typename T>
T dot(const T* a, const T* b, std::int64_t n) {
    T s = 0;
    for (std::int64_t k = 0; k < n; ++k) s += a[k] * b[k];
    return s;
}

/// out[j] = a . B_j for rows B_j = B + j * ld, j < n. Four rows at a time: four independent sums
/// keep the floating-point adder busy instead of waiting on one chain.
template <int HS, typename T>
void dots(const T* a, const T* B, std::int64_t ld, std::int64_t n, std::int64_t run_time_hs, T* out) {
    const std::int64_t hs = head_size<HS>(run_time_hs);
    std::int64_t j = 0;
    for (; j + 4 <= n; j += 4) {
        const T *b0 = B + j * ld, *b1 = b0 + ld, *b2 = b1 + ld, *b3 = b2 + ld;
        T s0 = 0, s1 = 0, s2 = 0, s3 = 0;
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

template <int HS, typename T>
void add_scaled(T* dst, T w, const T* src, std::int64_t run_time_n) {  // dst += w * src
    const std::int64_t n = head_size<HS>(run_time_n);
    BABYGPT_OMP(simd)
    for (std::int64_t k = 0; k < n; ++k) dst[k] += w * src[k];
}

/// P = softmax(Q K^T * scale, causal) and O = dropout(P) V for one head. HS: the head size if known
/// at compile time (see head_size), else 0.
template <int HS, typename T, typename Drop>
void head_forward_loops(const T* Q, const T* K, const T* V, std::int64_t ld, std::int64_t Tn, std::int64_t run_time_hs,
                        T scale, T* P, T* O, std::int64_t ld_out, const Drop& drop) {
    const std::int64_t hs = head_size<HS>(run_time_hs);
    for (std::int64_t i = 0; i < Tn; ++i) {  // scaled scores minus the row max; the future masked
        T* p = P + i * Tn;
        dots<HS>(Q + i * ld, K, ld, i + 1, hs, p);
        T max = -std::numeric_limits<T>::infinity();
        for (std::int64_t j = 0; j <= i; ++j) {
            p[j] *= scale;
            max = p[j] > max ? p[j] : max;
        }
        for (std::int64_t j = 0; j <= i; ++j) p[j] -= max;
        for (std::int64_t j = i + 1; j < Tn; ++j) p[j] = -std::numeric_limits<T>::infinity();
    }
    // One vectorised exp over the whole (T, T) block; the masked entries become exactly 0.
    Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>> block(P, Tn * Tn);
    block = block.exp();
    for (std::int64_t i = 0; i < Tn; ++i) {
        T* p = P + i * Tn;
        T sum = 0;
        for (std::int64_t j = 0; j <= i; ++j) sum += p[j];
        const T inv = T(1) / sum;
        for (std::int64_t j = 0; j <= i; ++j) p[j] *= inv;
        T* o = O + i * ld_out;
        if constexpr (HS > 0) {  // the running sum in registers, not a store and a reload per term
            T acc[HS] = {};
            for (std::int64_t j = 0; j <= i; ++j) {
                const T w = p[j] * drop(i, j);
                const T* v = V + j * ld;
                for (int k = 0; k < HS; ++k) acc[k] += w * v[k];
            }
            std::copy_n(acc, HS, o);
        } else {
            std::fill_n(o, hs, T(0));
            for (std::int64_t j = 0; j <= i; ++j) {
                const T w = p[j] * drop(i, j);
                if (w != T(0)) add_scaled<HS>(o, w, V + j * ld, hs);
            }
        }
    }
}

/// Accumulates dQ, dK, dV of one head from G = dO (see attention.hpp for the formulas).
/// `dp` is scratch for one row of T values.
template <int HS, typename T, typename Drop>
void head_backward_loops(const T* Q, const T* K, const T* V, T* dQ, T* dK, T* dV, std::int64_t ld, std::int64_t Tn,
                         std::int64_t run_time_hs, T scale, const T* P, const T* G, std::int64_t ld_out,
                         const Drop& drop, T* dp) {
    const std::int64_t hs = head_size<HS>(run_time_hs);
    for (std::int64_t i = 0; i < Tn; ++i) {
        const T* p = P + i * Tn;
        const T* g = G + i * ld_out;
        T row_dot = 0;
        dots<HS>(g, V, ld, i + 1, hs, dp);  // G V^T
        for (std::int64_t j = 0; j <= i; ++j) {
            const T f = drop(i, j);
            dp[j] *= f;  // dP = (G V^T) * mask
            if (p[j] * f != T(0)) add_scaled<HS>(dV + j * ld, p[j] * f, g, hs);  // dV += P'^T G
            row_dot += dp[j] * p[j];
        }
        if constexpr (HS > 0) {  // row i of dQ summed in registers (see head_forward_loops)
            T dq[HS];
            std::copy_n(dQ + i * ld, HS, dq);
            for (std::int64_t j = 0; j <= i; ++j) {
                const T ds = p[j] * (dp[j] - row_dot) * scale;  // softmax backward, then the scale
                const T* k_row = K + j * ld;
                BABYGPT_OMP(simd)
                for (int k = 0; k < HS; ++k) dq[k] += ds * k_row[k];  // dQ = dS K
                add_scaled<HS>(dK + j * ld, ds, Q + i * ld, hs);      // dK = dS^T Q
            }
            std::copy_n(dq, HS, dQ + i * ld);
        } else {
            for (std::int64_t j = 0; j <= i; ++j) {
                const T ds = p[j] * (dp[j] - row_dot) * scale;
                if (ds == T(0)) continue;
                add_scaled<HS>(dQ + i * ld, ds, K + j * ld, hs);
                add_scaled<HS>(dK + j * ld, ds, Q + i * ld, hs);
            }
        }
    }
}

}  // namespace babygpt::detail
