#pragma once
// The named arguments of the attention kernels (kernels/attention.hpp): one head of one batch entry,
// as Eigen maps into the op's tensors, so that a kernel call reads attention_head_forward(head, out),
// the head carrying its Q, K, V, P, scale and dropout, instead of a dozen pointers and strides. The
// maps own nothing; the op's tensors do. A kernel that writes through a view takes it by value: a
// const Eigen map only reads.

#include <cstdint>

#include <Eigen/Core>

#include "babygpt/ops/dropout.hpp"

namespace babygpt::kernels {

/// A row-major matrix, as the op's tensors store theirs.
template <typename Scalar>
using HeadMatrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// A head's (T, hs) columns of a wider row-major matrix (the packed qkv, the (B, T, C) output, their
/// gradients): row t starts outerStride() elements after row t - 1.
template <typename Scalar>
using HeadSlice = Eigen::Map<HeadMatrix<Scalar>, 0, Eigen::OuterStride<>>;
template <typename Scalar>
using ConstHeadSlice = Eigen::Map<const HeadMatrix<Scalar>, 0, Eigen::OuterStride<>>;

/// The dropout factor of each entry of one head's probabilities P (T, T): 1 without dropout, else 0
/// or keep_scale = 1 / (1 - p) as the hashed mask (ops/dropout.hpp) decides for index first + i T + j.
template <typename Scalar>
struct HeadDropout {
    const babygpt::detail::DropoutMask* mask = nullptr;  // null: no dropout
    Scalar keep_scale = 1;
    std::uint64_t first = 0;  // the mask index of P[0][0]
    std::int64_t T = 0;

    bool active() const { return mask != nullptr; }
    Scalar operator()(std::int64_t i, std::int64_t j) const {
        if (!mask) return Scalar(1);
        return mask->keep(first + static_cast<std::uint64_t>(i * T + j)) ? keep_scale : Scalar(0);
    }
};

/// One head of one batch entry: what its forward reads and writes, and its backward reads. `saved` is
/// what the forward keeps for the backward, attention_saved_per_head(T) values (kernels/attention.hpp):
/// for a short context the probabilities P (T, T), zero above the diagonal; for a long one only each
/// row's log-sum-exp of the scaled scores (T), from which the backward recomputes P.
template <typename Scalar>
struct AttentionHead {
    ConstHeadSlice<Scalar> Q, K, V;  // (T, hs) each
    Scalar* saved;                   // P (T, T) or the row log-sum-exps (T), as above
    Scalar scale;                    // of the scores: 1 / sqrt(hs)
    HeadDropout<Scalar> dropout;     // of P

    std::int64_t T() const { return Q.rows(); }
    std::int64_t head_size() const { return Q.cols(); }
    Eigen::Map<HeadMatrix<Scalar>> P() const { return {saved, T(), T()}; }  // short contexts
    Eigen::Map<Eigen::Array<Scalar, Eigen::Dynamic, 1>> row_logsumexp() const { return {saved, T()}; }  // long ones
};

/// The gradients of one head: dO in, dQ, dK and dV out (each (T, hs), slices of qkv's gradient).
/// Without `accumulate` the buffer is fresh: the kernel assigns, which equals adding to zeros.
template <typename Scalar>
struct AttentionHeadGrad {
    ConstHeadSlice<Scalar> dO;
    HeadSlice<Scalar> dQ, dK, dV;
    bool accumulate;
};

}  // namespace babygpt::kernels
