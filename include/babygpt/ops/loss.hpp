#pragma once
// Fused cross-entropy: log-softmax and negative log-likelihood in one pass, averaged over the rows,
// as torch.nn.functional.cross_entropy(logits.view(N, V), targets.view(N)).
//   loss_i = logsumexp(x_i) - x_i[t_i]          (computed with the row max subtracted: no overflow)
//   dx_i   = g / N * (softmax(x_i) - onehot(t_i))
// Forward forms dx / g when a gradient is needed, so backward costs one pass.

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

/// The cross-entropy of one row of V logits, logsumexp(x) - x[target], computed with the row max
/// subtracted (no overflow). With `grad` (which may be x itself) it also writes the gradient of a mean
/// over N rows, (softmax(x) - onehot(target)) * inv_n, so that backward is one scaled addition.
template <typename T>
T cross_entropy_row(const T* x, std::int64_t V, std::int64_t target, T* grad, T inv_n) {
    using ConstRow = Eigen::Map<const Eigen::Array<T, 1, Eigen::Dynamic>>;
    const ConstRow in(x, V);
    const T target_logit = x[target];
    const T m = in.maxCoeff();
    if (!grad) return m + std::log((in - m).exp().sum()) - target_logit;
    Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>> out(grad, V);
    out = (in - m).exp();
    const T sum = out.sum();
    out *= inv_n / sum;
    out(target) -= inv_n;
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
    for (std::int64_t i = 0; i < N; ++i)
        row_loss(i) = detail::cross_entropy_row(logits.data() + i * V, V, targets.data()[i],
                                                needs_grad ? D.data() + i * V : nullptr, inv_n);
    Tensor<T> loss = Tensor<T>::scalar(row_loss.sum() / static_cast<T>(N));
    if (!needs_grad) return loss;
    record(loss, "cross_entropy", {logits}, [logits, D, N, V](const Tensor<T>& g) {
        logits.add_to_grad(N, V, g.item() * D.matrix(N, V));
    });
    return loss;
}

}  // namespace babygpt
