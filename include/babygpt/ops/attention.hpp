#pragma once
// Fused causal self-attention over all heads, from one packed QKV projection.
//
// qkv (B, T, 3C) holds [queries of all heads | keys | values]; head h of each part is in columns
// h*hs .. (h+1)*hs, hs = C / nh. For every batch entry b and head h, with Q, K, V its (T, hs) slices
// and scale = 1 / sqrt(hs):
//   S  = Q K^T * scale                  (T, T)   attention scores
//   P  = softmax(S with j > i masked)   (T, T)   each row sums to 1 over the positions j <= i
//   P' = P * M                          (T, T)   dropout, training only (M below)
//   O  = P' V                           (T, hs)  columns h*hs .. of the (B, T, C) output
// This equals the reference's per-head Head modules followed by concatenation, without building the
// (B, nh, T, T) intermediates as separate tensors and graph nodes.
//
// Dropout on the probabilities: M[i][j] is 0 with probability p, else 1 / (1 - p), decided by the hashed
// mask of ops/dropout.hpp at index ((b * nh + h) * T + i) * T + j. Backward recomputes it from the mask's
// key instead of storing a (B, nh, T, T) mask.
//
// Backward, with G = dO (T, hs), line by line from the last:
//   O = P' V          ->  dV = P'^T G,   dP' = G V^T
//   P' = P * M        ->  dP = dP' * M
//   P = softmax(S)    ->  dS_ij = P_ij (dP_ij - sum_k dP_ik P_ik)   (zero above the diagonal, as P is),
//                         from dP_ik/dS_ij = P_ik (delta_kj - P_ij) within row i
//   S = Q K^T * scale ->  dQ = dS K * scale,   dK = dS^T Q * scale
//
// The arithmetic is in kernels/attention.hpp: plain loops for short contexts, and for long ones
// blocks of query rows, each multiplied only with the keys it can see; for long contexts the forward
// keeps only each row's log-sum-exp of the scores, and backward recomputes P from it. Under ReferenceMode the op is
// the four lines above as plain ops, head by head (detail::causal_self_attention_reference), with the
// same dropout mask, and autograd derives the backward through them.

#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/kernels/attention.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/ops/softmax.hpp"
#include "babygpt/parallel.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/reference_mode.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// Where each head of causal_self_attention lives in the op's tensors: the kernels' named arguments.
/// Head bh is head h = bh % nh of batch entry b = bh / nh.
template <typename Scalar>
struct AttentionHeads {
    std::int64_t B, T, C, n_head, hs;
    Scalar scale;
    std::optional<DropoutMask> mask;  // empty: no dropout
    Scalar keep_scale;                // 1 / (1 - p)

    /// Where head bh's columns start in a (B, T, 3C) tensor (part 0, 1, 2: q, k, v) and in a (B, T, C) one.
    std::int64_t qkv_offset(std::int64_t bh, int part) const {
        return bh / n_head * T * 3 * C + part * C + bh % n_head * hs;
    }
    std::int64_t output_offset(std::int64_t bh) const { return bh / n_head * T * C + bh % n_head * hs; }

    /// Its q, k, v (T, hs) in qkv, its part of `saved` (B, nh, kernels::attention_saved_per_head(T)) and
    /// its dropout.
    kernels::AttentionHead<Scalar> head(const Tensor<Scalar>& qkv, const Tensor<Scalar>& saved, std::int64_t bh) const {
        const Scalar* q = qkv.data() + qkv_offset(bh, 0);
        const Eigen::OuterStride<> row(3 * C);
        const kernels::HeadDropout<Scalar> dropout{mask ? &*mask : nullptr, keep_scale,
                                                   static_cast<std::uint64_t>(bh * T * T), T};
        return {{q, T, hs, row}, {q + C, T, hs, row}, {q + 2 * C, T, hs, row},
                saved.data() + bh * saved.size(-1), scale, dropout};
    }
    /// Its (T, hs) columns of the output (B, T, C).
    kernels::HeadSlice<Scalar> output(const Tensor<Scalar>& out, std::int64_t bh) const {
        return {out.data() + output_offset(bh), T, hs, Eigen::OuterStride<>(C)};
    }
    /// Its columns of the output's gradient g (B, T, C) and of qkv's gradient dqkv (B, T, 3C).
    kernels::AttentionHeadGrad<Scalar> gradients(const Tensor<Scalar>& g,
                                                 typename Tensor<Scalar>::GradTarget dqkv,
                                                 std::int64_t bh) const {
        Scalar* dq = dqkv.matrix.data() + qkv_offset(bh, 0);
        const Eigen::OuterStride<> row(3 * C);
        return {{g.data() + output_offset(bh), T, hs, Eigen::OuterStride<>(C)},
                {dq, T, hs, row}, {dq + C, T, hs, row}, {dq + 2 * C, T, hs, row}, dqkv.accumulate};
    }
};

/// Head h's dropout factors M (B, T, T), the ones the fused op applies to that head's P: 0 or
/// keep_scale as the hashed mask decides at index ((b * nh + h) * T + i) * T + j.
template <typename Scalar>
Tensor<Scalar> attention_dropout_factors(const AttentionHeads<Scalar>& heads, std::int64_t h) {
    const std::int64_t T = heads.T;
    Tensor<Scalar> factors = Tensor<Scalar>::empty({heads.B, T, T});
    for (std::int64_t b = 0; b < heads.B; ++b) {
        const std::int64_t bh = b * heads.n_head + h;
        const kernels::HeadDropout<Scalar> dropout{&*heads.mask, heads.keep_scale,
                                                   static_cast<std::uint64_t>(bh * T * T), T};
        for (std::int64_t i = 0; i < T; ++i)
            for (std::int64_t j = 0; j < T; ++j) factors.data()[(b * T + i) * T + j] = dropout(i, j);
    }
    return factors;
}

/// causal_self_attention as the plain ops of its formula, one head at a time (as Head::forward does).
template <typename Scalar>
Tensor<Scalar> causal_self_attention_reference(const Tensor<Scalar>& qkv, const AttentionHeads<Scalar>& heads) {
    const std::int64_t C = heads.C, hs = heads.hs;
    std::vector<Tensor<Scalar>> outputs;
    for (std::int64_t h = 0; h < heads.n_head; ++h) {
        const Tensor<Scalar> q = narrow_last(qkv, h * hs, hs);          // (B, T, hs)
        const Tensor<Scalar> k = narrow_last(qkv, C + h * hs, hs);      // (B, T, hs)
        const Tensor<Scalar> v = narrow_last(qkv, 2 * C + h * hs, hs);  // (B, T, hs)
        const Tensor<Scalar> S = matmul(q, transpose(k)) * heads.scale;  // (B, T, T)
        Tensor<Scalar> P = softmax(causal_mask(S));                      // (B, T, T)
        if (heads.mask) P = P * attention_dropout_factors(heads, h);     // P' = P * M
        outputs.push_back(matmul(P, v));                                 // O (B, T, hs)
    }
    return concat(outputs);  // (B, T, C)
}

}  // namespace detail

/// qkv (B, T, 3C) packed as [queries of all heads | keys | values], head h of each part in columns
/// h*hs .. (h+1)*hs -> (B, T, C) with the heads' outputs side by side.
template <typename Scalar>
Tensor<Scalar> causal_self_attention(const Tensor<Scalar>& qkv, std::int64_t n_head, double dropout_p, bool training,
                                     Generator& gen) {
    BABYGPT_CHECK(qkv.dim() == 3 && qkv.size(-1) % 3 == 0, "causal_self_attention: qkv must be (B, T, 3C), got ",
                  to_string(qkv.shape()));
    const std::int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3;
    BABYGPT_CHECK(n_head > 0 && C % n_head == 0, "causal_self_attention: C = ", C,
                  " is not divisible by n_head = ", n_head);
    BABYGPT_CHECK(dropout_p >= 0.0 && dropout_p < 1.0, "causal_self_attention: dropout must be in [0, 1), got ",
                  dropout_p);
    const std::int64_t hs = C / n_head;
    detail::AttentionHeads<Scalar> heads{B, T, C, n_head, hs, Scalar(1) / std::sqrt(static_cast<Scalar>(hs)),
                                         std::nullopt, Scalar(1)};
    if (training && dropout_p > 0.0) {  // dropout of P: one key drawn now, M hashed from it (see above)
        heads.mask = detail::DropoutMask(dropout_p, gen);
        heads.keep_scale = static_cast<Scalar>(1.0 / (1.0 - dropout_p));
    }
    if (ReferenceMode::is_enabled()) return detail::causal_self_attention_reference(qkv, heads);
    profiler::Scope profile("causal_self_attention");

    // What backward needs of each head: P (T, T) for a short context, and for a long one only each row's
    // log-sum-exp (T), from which backward recomputes P (kernels/attention.hpp).
    Tensor<Scalar> saved = Tensor<Scalar>::empty({B, n_head, kernels::attention_saved_per_head(T)});
    Tensor<Scalar> out = Tensor<Scalar>::empty({B, T, C});
    // Every (batch entry, head) pair is independent and writes its own slices: one task each. (A single
    // pair runs outside a parallel region, so the kernel's matrix products can use the threads.)
    BABYGPT_OMP(parallel for schedule(static) if (B * n_head > 1))
    for (std::int64_t bh = 0; bh < B * n_head; ++bh)
        kernels::attention_head_forward(heads.head(qkv, saved, bh), heads.output(out, bh));

    record(out, "causal_self_attention", {qkv}, [qkv, saved, heads](const Tensor<Scalar>& g) {
        // Each head owns its q, k and v columns of dqkv (B, T, 3C): into a fresh buffer (the first
        // contribution) the kernels assign instead of adding to zeros.
        typename Tensor<Scalar>::GradTarget dqkv = qkv.grad_target(heads.B * heads.T, 3 * heads.C);
        BABYGPT_OMP(parallel for schedule(static) if (heads.B * heads.n_head > 1))
        for (std::int64_t bh = 0; bh < heads.B * heads.n_head; ++bh)
            kernels::attention_head_backward(heads.head(qkv, saved, bh), heads.gradients(g, dqkv, bh));
    });
    return out;
}

}  // namespace babygpt
