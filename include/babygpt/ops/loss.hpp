#pragma once
// Fused cross-entropy: log-softmax and negative log-likelihood in one pass, averaged over the rows,
// as torch.nn.functional.cross_entropy(logits.view(N, V), targets.view(N)).
//   loss_i = logsumexp(x_i) - x_i[t_i]          (computed with the row max subtracted: no overflow)
//   dx_i   = g / N * (softmax(x_i) - onehot(t_i))
// Forward keeps the softmax probabilities when a gradient is needed, so backward costs one pass.

#include <cmath>

#include "babygpt/autograd.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

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
    const std::int64_t* t = targets.data();
    for (std::int64_t i = 0; i < N; ++i)
        BABYGPT_CHECK(t[i] >= 0 && t[i] < V, "cross_entropy: target ", t[i], " is out of range for ", V, " classes");
    // When a gradient will be needed, forward keeps softmax(logits) (N, V): backward is then one
    // subtraction instead of a second pass of exp().
    const bool keep_probs = GradMode::is_enabled() && logits.requires_grad();
    Tensor<T> probs = keep_probs ? Tensor<T>::empty({N, V}) : Tensor<T>();
    auto X = logits.matrix(N, V).array();
    Eigen::Array<T, Eigen::Dynamic, 1> row_loss(N);
#pragma omp parallel for schedule(static) if (N * V > 65536)
    for (std::int64_t i = 0; i < N; ++i) {
        const T m = X.row(i).maxCoeff();
        T sum;
        if (keep_probs) {
            auto p = probs.matrix(N, V).row(i).array();
            p = (X.row(i) - m).exp();
            sum = p.sum();
            p /= sum;
        } else {
            sum = (X.row(i) - m).exp().sum();
        }
        row_loss(i) = m + std::log(sum) - X(i, t[i]);  // logsumexp - x[target]
    }
    Tensor<T> loss = Tensor<T>::scalar(row_loss.sum() / static_cast<T>(N));
    record(loss, "cross_entropy", {logits}, [logits, targets, probs, N, V](const Tensor<T>& g) {
        const T scale = g.item() / static_cast<T>(N);
        auto dX = logits.grad_matrix(N, V).array();
        dX += scale * probs.matrix(N, V).array();
        for (std::int64_t i = 0; i < N; ++i) dX(i, targets.data()[i]) -= scale;
    });
    return loss;
}

}  // namespace babygpt
