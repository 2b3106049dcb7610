#pragma once
// linear_cross_entropy: cross_entropy(linear(x, W, b), targets) without keeping the logits.
//
// The language-model head of a training step is the widest tensor in the model: (N, V) logits with V the
// vocabulary (6,000+ for Chinese text). Done as two ops, the logits are written, read by the softmax,
// the probabilities written and read again by backward, which writes the logits' gradient that two
// GEMMs then read: about eight passes over N*V floats, each too big for the cache. Here the rows go in
// blocks: a block's logits are computed, turned into softmax and then, in place, into the gradient of
// the mean loss with respect to those logits,
//   D_i = (softmax(x_i W^T + b) - onehot(t_i)) / N,
// all while the block is hot. Backward, for an upstream gradient g:
//   dx += g D W,   dW += g D^T x,   db += g * (column sums of D).
// With a narrow C (the narrow kernels' widths, as in a character model of Chinese: C = 32, V = 6,100)
// the three products of D are made in forward too, on blocks of a few rows whose D fits in the core's
// L2 cache, so that no (N, V) tensor is ever written and backward only scales and adds dx, dW and db.
// Otherwise D (N, V) is kept for backward's two GEMMs (with C = 384 and V = 65, as at v11, D is the
// smaller of the two: N*V against dx's N*C).
// Without a gradient (evaluation) only the loss is wanted, loss_i = logsumexp(z_i) - z_i[t_i] for the
// logits z_i = x_i W^T + b, and with a narrow C the logits are not even written: each row's log-sum-exp
// is gathered tile by tile as the product makes them, and z_i[t_i] is one dot product. The products are
// kernels/products.hpp's.
// Under ReferenceMode it is what it stands for: cross_entropy(linear(x, W, b), targets).

#include <algorithm>
#include <cmath>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/kernels/products.hpp"
#include "babygpt/ops/linear.hpp"
#include "babygpt/ops/loss.hpp"
#include "babygpt/parallel.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// Rows per block: about 256 KB of logits, so that a block stays in cache between the product and the
/// softmax, but at least 128 rows: every block reads all of W (V, C) again (a general GEMM even packs
/// it again), and with a wide vocabulary that costs more than the cache saves (docs/performance.md).
inline std::int64_t cross_entropy_block_rows(std::int64_t N, std::int64_t V, std::size_t element_size) {
    const std::int64_t rows = static_cast<std::int64_t>(262144 / (static_cast<std::size_t>(V) * element_size));
    return std::max<std::int64_t>(std::min<std::int64_t>(std::max<std::int64_t>(rows, 128), N), 1);
}

/// Rows per sub-block of the narrow path with a gradient: whole 8-row tiles of the narrow kernels, as
/// many as keep a sub-block's logits (rows, V) within 768 KB, so that they stay in L2 (1 MB per core
/// here) from the product through the softmax to the two gradient products: 32 rows at V = 6,100.
inline std::int64_t cross_entropy_sub_block_rows(std::int64_t V, std::size_t element_size) {
    const std::int64_t rows = static_cast<std::int64_t>(786432 / (static_cast<std::size_t>(V) * element_size)) / 8 * 8;
    return std::max<std::int64_t>(rows, 8);
}

/// Rows of logits G (rows, V), dense, with their targets: returns the sum of the rows' losses and leaves
/// in place of each row the gradient of the mean loss over N rows, (softmax - onehot(t)) * inv_n.
template <typename T>
T row_losses_and_gradients(T* G, std::int64_t rows, std::int64_t V, const std::int64_t* targets, T inv_n) {
    T loss_sum = 0;
    for (std::int64_t r = 0; r < rows; ++r) {
        T* row = G + r * V;
        loss_sum += cross_entropy_row(LogitRow<T>(row, V), targets[r], GradRow<T>(row, V), inv_n);
    }
    return loss_sum;
}

/// The blocks' sums added in block order: the same bits for any thread count.
template <typename T>
T sum_in_order(const std::vector<T>& block_sums) {
    T total = 0;
    for (const T s : block_sums) total += s;
    return total;
}

/// The shapes linear_cross_entropy needs, each refused with a message that names them.
template <typename T>
void check_linear_cross_entropy(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                                const IndexTensor& targets) {
    BABYGPT_CHECK(weight.dim() == 2 && x.dim() >= 1 && x.size(-1) == weight.size(1), "linear_cross_entropy: input ",
                  to_string(x.shape()), " and weight ", to_string(weight.shape()),
                  ": the weight must be (classes, in_features) with in_features = the input's last dimension");
    const std::int64_t V = weight.size(0);
    BABYGPT_CHECK(!bias.defined() || bias.shape() == Shape{V}, "linear_cross_entropy: bias ", to_string(bias.shape()),
                  " does not match weight ", to_string(weight.shape()), " (expected (", V, ",))");
    BABYGPT_CHECK(targets.dim() + 1 == x.dim() && std::equal(targets.shape().begin(), targets.shape().end(),
                                                               x.shape().begin()),
                  "linear_cross_entropy: input ", to_string(x.shape()), " and targets ", to_string(targets.shape()),
                  ": the targets must have the input's shape without the last (feature) dimension");
    const std::int64_t N = targets.numel();
    BABYGPT_CHECK(N > 0 && V > 0, "linear_cross_entropy: no rows or no classes (input ", to_string(x.shape()),
                  ", weight ", to_string(weight.shape()), ")");
    detail::check_targets("linear_cross_entropy", targets, V);
}

/// The mean loss without a gradient: sum over rows of logsumexp(z_i) - z_i[t_i], z_i = x_i W^T + b, over
/// N. Row blocks as with a gradient, and the block sums added in order: the same bits for any thread count.
/// With a narrow C the logits are never written (LogitsProduct::log_sum_exp, and z_i[t_i] as one dot
/// product); otherwise a block's logits go through a scratch matrix and cross_entropy_row.
template <typename T>
T mean_loss_without_logits(const Tensor<T>& x, const IndexTensor& targets, const kernels::LogitsProduct<T>& logits_of,
                           std::int64_t block_rows) {
    const std::int64_t N = targets.numel(), C = x.size(-1), V = logits_of.classes();
    const std::int64_t blocks = (N + block_rows - 1) / block_rows;
    std::vector<T> block_loss(static_cast<std::size_t>(blocks));
    BABYGPT_OMP(parallel for schedule(static) if (blocks > 1 && N * V * C > (1 << 20)))
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
        const std::int64_t r0 = blk * block_rows, rows = std::min(block_rows, N - r0);
        const typename Tensor<T>::MatrixMap X(x.data() + r0 * C, rows, C);
        const std::int64_t* t = targets.data() + r0;
        T loss_sum = 0;
        if (logits_of.narrow()) {
            std::vector<T> lse(static_cast<std::size_t>(rows));  // logsumexp of each row's logits
            logits_of.log_sum_exp(X, lse.data());
            for (std::int64_t r = 0; r < rows; ++r)
                loss_sum += lse[static_cast<std::size_t>(r)] - logits_of.logit(X.row(r).data(), t[r]);
        } else {
            std::vector<T> logits(static_cast<std::size_t>(rows * V));  // (rows, V)
            logits_of.compute(X, typename Tensor<T>::MatrixMap(logits.data(), rows, V));
            for (std::int64_t r = 0; r < rows; ++r)
                loss_sum += cross_entropy_row(LogitRow<T>(logits.data() + r * V, V), t[r]);
        }
        block_loss[static_cast<std::size_t>(blk)] = loss_sum;
    }
    return sum_in_order(block_loss) / static_cast<T>(N);
}

/// linear_cross_entropy with a gradient and a narrow C (logits_of.narrow()): forward computes what backward
/// needs, sub-block by sub-block while that sub-block's D is in cache:
///   dx rows = D W,   dW_block += D^T x rows,   db_block += column sums of D,
/// with the blocks of rows, their partial sums and the order they are added in fixed for any thread
/// count, so the bits are too. Backward scales them by its upstream gradient and adds them.
template <typename T>
Tensor<T> narrow_linear_cross_entropy(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                                      const IndexTensor& targets, const kernels::LogitsProduct<T>& logits_of,
                                      std::int64_t block_rows) {
    using MatrixMap = typename Tensor<T>::MatrixMap;
    const std::int64_t C = weight.size(1), V = weight.size(0), N = targets.numel();
    const std::int64_t blocks = (N + block_rows - 1) / block_rows;
    const std::int64_t sub_rows = std::min(block_rows, cross_entropy_sub_block_rows(V, sizeof(T)));
    const bool x_grad = x.requires_grad(), weight_grad = weight.requires_grad(),
               bias_grad = bias.defined() && bias.requires_grad();
    Tensor<T> dx = x_grad ? Tensor<T>::empty({N, C}) : Tensor<T>();                    // D W
    Tensor<T> weight_partials = weight_grad ? Tensor<T>::empty({blocks, V, C}) : Tensor<T>();  // each block's D^T x
    Tensor<T> bias_partials = bias_grad ? Tensor<T>::empty({blocks, V}) : Tensor<T>();  // each block's column sums
    std::vector<T> block_loss(static_cast<std::size_t>(blocks));
    const T inv_n = T(1) / static_cast<T>(N);

    auto one_block = [&](std::int64_t blk) {
        const std::int64_t begin = blk * block_rows, end = std::min(N, begin + block_rows);
        const Tensor<T> D = Tensor<T>::empty({sub_rows, V});  // a sub-block's logits, then in place their gradient
        T loss_sum = 0;
        for (std::int64_t r0 = begin; r0 < end; r0 += sub_rows) {
            const std::int64_t rows = std::min(sub_rows, end - r0);
            const bool first = r0 == begin;  // the block's partial sums start here
            const MatrixMap X(x.data() + r0 * C, rows, C);
            MatrixMap G(D.data(), rows, V);  // (rows, V)
            logits_of.compute(X, G);         // X W^T + b
            loss_sum += row_losses_and_gradients(G.data(), rows, V, targets.data() + r0, inv_n);  // G = D in place
            if (x_grad)  // dx rows (rows, C) = D W
                kernels::rows_times_narrow(G.data(), V, weight.data(), rows, V, C, dx.data() + r0 * C, false);
            if (weight_grad)  // dW_block (V, C) += D^T x rows
                kernels::columns_times_narrow(G.data(), V, X.data(), rows, V, C, weight_partials.data() + blk * V * C,
                                              !first);
            if (bias_grad) {  // db_block (V) += column sums of D
                auto db = bias_partials.matrix(blocks, V).row(blk);
                if (first) db = G.colwise().sum();
                else db += G.colwise().sum();
            }
        }
        block_loss[static_cast<std::size_t>(blk)] = loss_sum;
    };
    // Blocks in parallel when there are several; a single block runs outside any parallel region, so
    // that the products inside may split its rows across the threads. (Opened inside a region, even an
    // inactive one of one thread, their regions are nested: with GCC's OpenMP that made v9's forward
    // on tinyshakespeare 6x slower on two threads.)
    if (blocks > 1 && N * V * C > (1 << 20)) {
        BABYGPT_OMP(parallel for schedule(static))
        for (std::int64_t blk = 0; blk < blocks; ++blk) one_block(blk);
    } else {
        for (std::int64_t blk = 0; blk < blocks; ++blk) one_block(blk);
    }
    Tensor<T> loss = Tensor<T>::scalar(sum_in_order(block_loss) * inv_n);

    std::vector<Tensor<T>> inputs{x, weight};
    if (bias.defined()) inputs.push_back(bias);
    record(loss, "linear_cross_entropy", inputs,
           [x, weight, bias, dx, weight_partials, bias_partials, N, C, V, blocks](const Tensor<T>& g) {
               const T scale = g.item();
               if (dx.defined()) x.add_to_grad(N, C, scale * dx.matrix(N, C));  // dx += g D W
               for (std::int64_t blk = 0; weight_partials.defined() && blk < blocks; ++blk)  // dW += g D^T x
                   weight.add_to_grad(V, C, scale * MatrixMap(weight_partials.data() + blk * V * C, V, C));
               if (bias_partials.defined())  // db += g * column sums of D
                   bias.add_to_grad(1, V, scale * bias_partials.matrix(blocks, V).colwise().sum());
           });
    return loss;
}

}  // namespace detail

/// x (..., C), weight (V, C), bias (V) or undefined, integer targets (...) in [0, V)
/// -> mean cross-entropy of x W^T + b against the targets, shape ().
template <typename T>
Tensor<T> linear_cross_entropy(const Tensor<T>& x, const Tensor<T>& weight, const Tensor<T>& bias,
                               const IndexTensor& targets) {
    if (ReferenceMode::is_enabled()) return cross_entropy(linear(x, weight, bias), targets);
    profiler::Scope profile("linear_cross_entropy");
    detail::check_linear_cross_entropy(x, weight, bias, targets);
    const std::int64_t C = weight.size(1), V = weight.size(0), N = targets.numel();

    const bool needs_grad = GradMode::is_enabled() &&
                            (x.requires_grad() || weight.requires_grad() || (bias.defined() && bias.requires_grad()));
    const std::int64_t block_rows = detail::cross_entropy_block_rows(N, V, sizeof(T));
    const kernels::LogitsProduct<T> logits_of(weight.matrix(), bias.defined() ? bias.data() : nullptr);
    if (!needs_grad) return Tensor<T>::scalar(detail::mean_loss_without_logits(x, targets, logits_of, block_rows));
    if (logits_of.narrow()) return detail::narrow_linear_cross_entropy(x, weight, bias, targets, logits_of, block_rows);

    const std::int64_t blocks = (N + block_rows - 1) / block_rows;
    Tensor<T> D = Tensor<T>::empty({N, V});  // (N, V): each block's logits, then in place their gradient
    const bool with_bias_grad = bias.defined() && bias.requires_grad();
    Tensor<T> bias_partials = with_bias_grad ? Tensor<T>::empty({blocks, V}) : Tensor<T>();  // per-block column sums
    std::vector<T> block_loss(static_cast<std::size_t>(blocks));
    const T inv_n = T(1) / static_cast<T>(N);

    // Blocks are independent: the same partition for any thread count, so the result is too.
    BABYGPT_OMP(parallel for schedule(static) if (blocks > 1 && N * V * C > (1 << 20)))
    for (std::int64_t blk = 0; blk < blocks; ++blk) {
        const std::int64_t r0 = blk * block_rows, rows = std::min(block_rows, N - r0);
        typename Tensor<T>::MatrixMap logits(D.data() + r0 * V, rows, V);  // (rows, V), in L2 from here on
        logits_of.compute(typename Tensor<T>::MatrixMap(x.data() + r0 * C, rows, C), logits);  // X W^T + b
        block_loss[static_cast<std::size_t>(blk)] =  // each row's loss; its gradient in place
            detail::row_losses_and_gradients(logits.data(), rows, V, targets.data() + r0, inv_n);
        if (with_bias_grad) bias_partials.matrix(blocks, V).row(blk) = logits.colwise().sum();
    }
    Tensor<T> loss = Tensor<T>::scalar(detail::sum_in_order(block_loss) * inv_n);

    std::vector<Tensor<T>> inputs{x, weight};
    if (bias.defined()) inputs.push_back(bias);
    record(loss, "linear_cross_entropy", inputs, [x, weight, bias, D, bias_partials, N, C, V, blocks](const Tensor<T>& g) {
        const T scale = g.item();
        Bf16ProductsGuard float32_products(false);  // the output layer stays float32, as its forward (bf16_products.hpp)
        const auto G = D.matrix(N, V);  // (N, V) gradient of the mean loss with respect to the logits
        if (x.requires_grad())  // dx += g D W
            kernels::product_nn(x.grad_target(N, C), G, weight.matrix(), scale);
        if (weight.requires_grad())  // dW += g D^T x
            kernels::product_tn(weight.grad_target(V, C), G, x.matrix(N, C), scale);
        if (bias.defined() && bias.requires_grad())  // db += g * column sums of D
            bias.add_to_grad(1, V, scale * bias_partials.matrix(blocks, V).colwise().sum());
    });
    return loss;
}

}  // namespace babygpt
