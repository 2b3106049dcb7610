#pragma once
// The matrix products of a linear layer, each named after what it computes, with the choice of kernel
// inside: the narrow kernels of narrow_gemm.hpp when the result is one, two or four SIMD packets wide
// (the v9 model's C = 32), few_rows.hpp's dot products for the few rows of generation, else one general
// GEMM split by rows across the threads (gemm.hpp).
//
//   product_nt(out, X, W):  out (N, out) (+)= X (N, in) W^T      a layer's forward, W (out, in)
//   product_nn(out, G, W):  out (N, in)  (+)= alpha G (N, out) W   the input's gradient
//   product_tn(out, G, X):  out (out, in) (+)= alpha G^T X        the weight's gradient
//   LogitsProduct:          logits = X W^T + b, block by block, with W^T prepared once; for a narrow
//                           C also only each row's log-sum-exp, for a loss without a gradient
//   gemm_into(out, A, B):   out (+)= alpha A B for any shapes, split by rows across the threads
//
// Under ReferenceMode (reference_mode.hpp) every product is the general GEMM. Under a Bf16ProductsGuard
// (bf16_products.hpp) product_nt, product_nn and product_tn of float tensors round their operands to
// bf16 and run bf16_gemm.hpp's product instead, whatever the shapes.
//
// `out` is an Output: a dense row-major matrix map and whether to add to it or overwrite it (a
// Tensor's grad_target() is one too). The operands are dense row-major matrix maps, as Tensor::matrix()
// gives them.

#include <cstdint>
#include <type_traits>

#include <Eigen/Core>

#include "babygpt/bf16_products.hpp"
#include "babygpt/kernels/bf16_gemm.hpp"
#include "babygpt/kernels/few_rows.hpp"
#include "babygpt/kernels/narrow_gemm.hpp"
#include "babygpt/kernels/gemm.hpp"
#include "babygpt/reference_mode.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt::kernels {

template <typename T>
using RowMajorMatrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename T>
using MatrixMap = Eigen::Map<RowMajorMatrix<T>>;

/// Where a product's result goes: `matrix` = result, or `matrix` += result when `accumulate`.
template <typename T>
struct Output {
    MatrixMap<T> matrix;
    bool accumulate = false;
};

/// dst = product, or dst += product when `accumulate`, on the calling thread.
template <typename Dst, typename Product>
void assign_or_add(Dst&& dst, const Product& product, bool accumulate) {
    if (accumulate) dst.noalias() += product;
    else dst.noalias() = product;
}

/// Whether the narrow kernels serve a product whose narrow side is `columns` wide.
template <typename T>
bool use_narrow_kernels(std::int64_t columns) {
    return narrow_product_fits<T>(columns) && !ReferenceMode::is_enabled();
}

/// Under a Bf16ProductsGuard, and for float: result (+)= alpha A B (A or B transposed as asked) with
/// bf16 operands, and true. Otherwise false, and nothing done.
template <typename T>
bool bf16_product(MatrixMap<T> result, bool accumulate, const MatrixMap<T>& A, bool transpose_a,
                  const MatrixMap<T>& B, bool transpose_b, T alpha = 1) {
    if constexpr (std::is_same_v<T, float>) {
        if (!Bf16Products::is_enabled()) return false;
        auto operand = [](const MatrixMap<T>& m, bool transposed) {
            return transposed ? DenseOperand{m.data(), m.cols(), m.rows(), true} : DenseOperand{m.data(), m.rows(), m.cols()};
        };
        bf16_gemm(result.data(), result.cols(), operand(A, transpose_a), operand(B, transpose_b), accumulate, alpha);
        return true;
    } else {
        return false;
    }
}

/// out (+)= alpha lhs rhs with the general GEMM.
template <typename Out, typename Lhs, typename Rhs, typename T = typename decltype(Out::matrix)::Scalar>
void gemm_into(const Out& out, const Lhs& lhs, const Rhs& rhs, T alpha = 1) {
    MatrixMap<T> result = out.matrix;  // a copy of the map (a view), writable even when `out` is const
    gemm_rows(result, lhs, rhs, out.accumulate, alpha);
}

/// out (N, out_features) (+)= X (N, in) W^T, W (out_features, in) as PyTorch stores a weight.
template <typename T, typename Out>
void product_nt(const Out& out, const MatrixMap<T>& X, const MatrixMap<T>& W) {
    const std::int64_t N = X.rows(), in = X.cols(), out_features = W.rows();
    if (bf16_product(out.matrix, out.accumulate, X, false, W, true)) return;
    if (use_narrow_kernels<T>(out_features)) {
        // The narrow kernel reads W^T (in, out_features) row by row: one transposed copy.
        const Tensor<T> weight_t = Tensor<T>::empty({in, out_features});  // from the buffer pool
        MatrixMap<T> result = out.matrix;  // a writable copy of the view
        transpose_padded(W.data(), out_features, in, weight_t.data(), out_features);
        rows_times_narrow(X.data(), in, weight_t.data(), N, in, out_features, result.data(), out.accumulate);
    } else if (N <= kFewRows && !ReferenceMode::is_enabled()) {
        MatrixMap<T> result = out.matrix;  // a writable copy of the view
        few_rows_times_transposed(X.data(), N, in, W.data(), out_features, result.data(), out.accumulate);
    } else {
        gemm_into(out, X, W.transpose());
    }
}

/// out (N, in) (+)= alpha G (N, out_features) W (out_features, in).
template <typename T, typename Out>
void product_nn(const Out& out, const MatrixMap<T>& G, const MatrixMap<T>& W, T alpha = 1) {
    const std::int64_t N = G.rows(), out_features = G.cols(), in = W.cols();
    if (bf16_product(out.matrix, out.accumulate, G, false, W, false, alpha)) return;
    MatrixMap<T> result = out.matrix;  // a writable copy of the view
    if (use_narrow_kernels<T>(in))
        rows_times_narrow(G.data(), out_features, W.data(), N, out_features, in, result.data(), out.accumulate, alpha);
    else
        gemm_into(out, G, W, alpha);
}

/// out (out_features, in) (+)= alpha G^T X, G (N, out_features), X (N, in).
template <typename T, typename Out>
void product_tn(const Out& out, const MatrixMap<T>& G, const MatrixMap<T>& X, T alpha = 1) {
    const std::int64_t N = G.rows(), out_features = G.cols(), in = X.cols();
    if (bf16_product(out.matrix, out.accumulate, G, true, X, false, alpha)) return;
    MatrixMap<T> result = out.matrix;  // a writable copy of the view
    if (use_narrow_kernels<T>(in))
        columns_times_narrow(G.data(), out_features, X.data(), N, out_features, in, result.data(), out.accumulate,
                             alpha);
    else
        gemm_into(out, G.transpose(), X, alpha);
}

/// logits = X W^T + b for blocks of rows X, with W (V, C) the output layer of a language model: V wide
/// (the vocabulary), C possibly narrow. For a narrow C, W^T is laid out once in panels (wide_panels) and
/// every block goes through narrow_times_wide; otherwise Eigen's product, on the calling thread (the
/// caller runs blocks in parallel).
template <typename T>
class LogitsProduct {
public:
    /// bias (V) may be null.
    LogitsProduct(const MatrixMap<T>& W, const T* bias)
        : W_(W), bias_(bias), narrow_(use_narrow_kernels<T>(W.cols())) {
        if (!narrow_) return;
        const std::int64_t V = W.rows(), C = W.cols();
        weight_panels_ = Tensor<T>::empty({wide_panel_count<T>(V), C, kWideTileColumns<T>});
        wide_panels(W.data(), V, C, weight_panels_.data());
    }

    /// logits (rows, V) = X (rows, C) W^T + b; X and logits dense.
    void compute(const MatrixMap<T>& X, MatrixMap<T> logits) const {
        const std::int64_t V = W_.rows(), C = W_.cols();
        if (narrow_) {
            narrow_times_wide(X.data(), X.rows(), C, weight_panels_.data(), V, bias_, logits.data(), V);
            return;
        }
        if (bias_) {
            logits.rowwise() = Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(bias_, V);
            logits.noalias() += X * W_.transpose();
        } else {
            logits.noalias() = X * W_.transpose();
        }
    }

    /// lse (rows) = the log-sum-exp of each row of X (rows, C) W^T + b, without the logits ever existing
    /// as a whole (narrow_times_wide_logsumexp). Narrow C only (narrow() is true).
    void log_sum_exp(const MatrixMap<T>& X, T* lse) const {
        BABYGPT_CHECK(narrow_, "LogitsProduct::log_sum_exp: only for a narrow C (compute the logits otherwise)");
        narrow_times_wide_logsumexp(X.data(), X.rows(), W_.cols(), weight_panels_.data(), W_.rows(), bias_, lse);
    }

    /// The logit of class t for one input row x (C): x . W_t + b_t.
    T logit(const T* x, std::int64_t t) const {
        const T dot = W_.row(t).dot(Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(x, W_.cols()));
        return bias_ ? dot + bias_[t] : dot;
    }

    /// V, the number of classes.
    std::int64_t classes() const { return W_.rows(); }

    /// Whether the narrow kernels serve this C (then product_nn/product_tn pick them for the gradients too).
    bool narrow() const { return narrow_; }

private:
    MatrixMap<T> W_;
    const T* bias_;
    bool narrow_;
    Tensor<T> weight_panels_;  // W^T in panels (wide_panel_count(V), C, kWideTileColumns); undefined unless narrow
};

}  // namespace babygpt::kernels
