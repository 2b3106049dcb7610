#pragma once
// Fused cross-entropy: log-softmax and negative log-likelihood in one pass, averaged over the rows,
// as torch.nn.functional.cross_entropy(logits.view(N, V), targets.view(N)).
//   loss_i = logsumexp(x_i) - x_i[t_i]          (computed with the row max subtracted: no overflow)
//   dx_i   = g / N * (softmax(x_i) - onehot(t_i))
// Forward keeps only each row's log-sum-exp; backward recomputes softmax from the logits, which costs
// one exp per element but saves an (N, V) buffer.

#include <cmath>

#include "babygpt/autograd.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// logits (..., V) and integer targets (...) with values in [0, V) -> mean loss, shape ().
template <typename T>
Tensor<T> cross_entropy(const Tensor<T>& logits, const IndexTensor& targets) {
    BABYGPT_CHECK(logits.dim() >= 1 && targets.dim() + 1 == logits.dim() &&
                      std::equal(targets.shape().begin(), targets.shape().end(), logits.shape().begin()),
                  "cross_entropy: logits ", to_string(logits.shape()), " and targets ", to_string(targets.shape()),
                  ": the targets must have the logits' shape without the last (class) dimension");
    const std::int64_t V = logits.size(-1), N = targets.numel();
    BABYGPT_CHECK(N > 0, "cross_entropy: no rows (targets ", to_string(targets.shape()), ")");
    const std::int64_t* t = targets.data();
    for (std::int64_t i = 0; i < N; ++i)
        BABYGPT_CHECK(t[i] >= 0 && t[i] < V, "cross_entropy: target ", t[i], " is out of range for ", V, " classes");
    auto X = logits.matrix(N, V).array();
    auto lse = std::make_shared<Eigen::Array<T, Eigen::Dynamic, 1>>(N);
    T total = 0;
    for (std::int64_t i = 0; i < N; ++i) {
        const T m = X.row(i).maxCoeff();
        (*lse)(i) = m + std::log((X.row(i) - m).exp().sum());
        total += (*lse)(i) - X(i, t[i]);
    }
    Tensor<T> loss = Tensor<T>::scalar(total / static_cast<T>(N));
    record(loss, "cross_entropy", {logits}, [logits, targets, lse, N, V](const Tensor<T>& g) {
        const T scale = g.item() / static_cast<T>(N);
        auto X = logits.matrix(N, V).array();
        auto dX = logits.grad_matrix(N, V).array();
        for (std::int64_t i = 0; i < N; ++i) {
            dX.row(i) += scale * (X.row(i) - (*lse)(i)).exp();
            dX(i, targets.data()[i]) -= scale;
        }
    });
    return loss;
}

}  // namespace babygpt
