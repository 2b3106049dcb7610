#pragma once
// Losses, averaged as PyTorch's default reduction='mean'.
//
// Fused cross-entropy: log-softmax and negative log-likelihood in one pass, averaged over the rows,
// as torch.nn.functional.cross_entropy(logits.view(N, V), targets.view(N)).
//   loss_i = logsumexp(x_i) - x_i[t_i]          (computed with the row max subtracted: no overflow)
//   dx_i   = g / N * (softmax(x_i) - onehot(t_i))
// Forward forms dx / g when a gradient is needed, so backward costs one pass.
//
// Mean squared error, as torch.nn.functional.mse_loss(input, target):
//   loss = 1/N sum_i (x_i - t_i)^2,   dx = g * 2/N (x - t),   dt = -dx

#include <cmath>

#include "babygpt/autograd.hpp"
#include "babygpt/parallel.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// Checks that every target is a class index in [0, V); `op` names the caller in the message.
inline void check_targets(const char* op, const IndexTensor& targets, std::int64_t V) {
    const std::int64_t* t = targets.data();
    for (std::int64_t i = 0; i < targets.numel(); ++i)
        BABYGPT_CHECK(t[i] >= 0 && t[i] < V, op, ": target ", t[i], " is out of range for ", V, " classes");
}

template <typename T>
using LogitRow = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;  // one row of V logits
template <typename T>
using GradRow = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;  // where that row's gradient goes

/// The cross-entropy of one row of logits, logsumexp(x) - x[target], computed with the row max
/// subtracted (no overflow).
template <typename T>
T cross_entropy_row(const LogitRow<T>& x, std::int64_t target) {
    const T m = x.maxCoeff();
    return m + std::log((x - m).exp().sum()) - x(target);
}

/// The same, and the gradient of a mean over N rows, (softmax(x) - onehot(target)) * inv_n, written
/// into `grad` (which may be x's own memory: x is read before grad is written), so that backward is
/// one scaled addition.
template <typename T>
T cross_entropy_row(const LogitRow<T>& x, std::int64_t target, GradRow<T> grad, T inv_n) {
    const T target_logit = x(target);
    const T m = x.maxCoeff();
    grad = (x - m).exp();
    const T sum = grad.sum();
    grad *= inv_n / sum;
    grad(target) -= inv_n;
    return m + std::log(sum) - target_logit;
}

}  // namespace detail

/// logits (..., V) and integer targets (...) with values in [0, V) -> mean loss, shape ().
template <typename T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const IndexTensor& targets) {
    profiler::Scope profile("cross_entropy");
    BABYGPT_CHECK(logits.dim() >= 1 && targets.dim() + 1 == logits.dim() &&
                      std::equal(targets.shape().begin(), targets.shape().end(), logits.shape().begin()),
                  "cross_entropy: logits ", to_string(logits.shape()), " and targets ", to_string(targets.shape()),
                  ": the targets must have the logits' shape without the last (class) dimension");
    const std::int64_t V = logits.size(-1), N = targets.numel();
    BABYGPT_CHECK(N > 0, "cross_entropy: no rows (targets ", to_string(targets.shape()), ")");
    detail::check_targets("cross_entropy", targets, V);
    // When a gradient will be needed, forward keeps the gradient of the loss with respect to the
    // logits, D (N, V): backward is then one scaled addition instead of a second pass of exp().
    const bool needs_grad = GradMode::is_enabled() && logits.requires_grad();
    Tensor<T> D = needs_grad ? Tensor<T>::empty({N, V}) : Tensor<T>();
    const T inv_n = T(1) / static_cast<T>(N);
    Eigen::Array<T, Eigen::Dynamic, 1> row_loss(N);
    BABYGPT_OMP(parallel for schedule(static) if (N * V > 65536))
    for (std::int64_t i = 0; i < N; ++i) {
        const detail::LogitRow<T> x(logits.data() + i * V, V);  // row i of logits (N, V)
        const std::int64_t t = targets.data()[i];
        row_loss(i) = needs_grad ? detail::cross_entropy_row(x, t, detail::GradRow<T>(D.data() + i * V, V), inv_n)
                                 : detail::cross_entropy_row(x, t);
    }
    Tensor<T> loss = Tensor<T>::scalar(row_loss.sum() / static_cast<T>(N));
    if (!needs_grad) return loss;
    record(loss, "cross_entropy", {logits}, [logits, D, N, V](const Tensor<T>& g) {
        logits.add_to_grad(N, V, g.item() * D.matrix(N, V));
    });
    return loss;
}

/// The mean squared error of `input` and `target` (same shape, any rank), shape (); a gradient
/// flows to both when they require one.
///
///     babygpt::Tensorf prediction = babygpt::Tensorf::from_data({2, 2}, {0.5f, 1.f, 2.f, -1.f});
///     babygpt::Tensorf target = babygpt::Tensorf::from_data({2, 2}, {0.f, 1.f, 1.f, 1.f});
///     babygpt::Tensorf loss = babygpt::mse_loss(prediction, target);  // (0.25 + 0 + 1 + 4) / 4 = 1.3125
template <typename T>
Tensor<T> mse_loss(const Tensor<T>& input, const Tensor<T>& target) {
    BABYGPT_CHECK(input.shape() == target.shape(), "mse_loss: input ", to_string(input.shape()), " and target ",
                  to_string(target.shape()), " must have the same shape (reshape one of them to match)");
    const T n = static_cast<T>(input.numel());  // 0: the loss is NaN, the mean of nothing, as in PyTorch
    Tensor<T> loss = Tensor<T>::scalar((input.array() - target.array()).square().sum() / n);
    record(loss, "mse_loss", {input, target}, [input, target, n](const Tensor<T>& g) {
        const T scale = T(2) * g.item() / n;  // d/dx_i of (x_i - t_i)^2 / N, times the upstream g
        if (input.requires_grad()) input.add_to_grad(scale * (input.array() - target.array()));
        if (target.requires_grad()) target.add_to_grad(-scale * (input.array() - target.array()));
    });
    return loss;
}

}  // namespace babygpt
