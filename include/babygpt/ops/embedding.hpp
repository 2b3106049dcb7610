#pragma once
// Embedding lookup: row idx[i] of the (V, C) weight for every index. Backward scatters (adds) each
// output row's gradient into the weight row it came from; an index used twice gets both gradients.

#include "babygpt/autograd.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// weight (V, C), idx of any shape (...) with values in [0, V) -> (..., C).
template <typename T>
Tensor<T> embedding(const Tensor<T>& weight, const IndexTensor& idx) {
    profiler::Scope profile("embedding");
    BABYGPT_CHECK(weight.dim() == 2, "embedding: the weight must be 2-d (num_embeddings, dim), got ",
                  to_string(weight.shape()));
    const std::int64_t V = weight.size(0), C = weight.size(1), n = idx.numel();
    const std::int64_t* ids = idx.data();
    for (std::int64_t i = 0; i < n; ++i)
        BABYGPT_CHECK(ids[i] >= 0 && ids[i] < V, "embedding: index ", ids[i], " is out of range for ", V,
                      " embeddings (weight ", to_string(weight.shape()), ")");
    Shape shape = idx.shape();
    shape.push_back(C);
    Tensor<T> out = Tensor<T>::empty(shape);
    auto W = weight.matrix(V, C);
    auto O = out.matrix(n, C);
    for (std::int64_t i = 0; i < n; ++i) O.row(i) = W.row(ids[i]);
    record(out, "embedding", {weight}, [weight, idx, V, C](const Tensor<T>& g) {
        auto dW = weight.grad_matrix(V, C);  // scattered: only the looked-up rows receive, into zeros
        auto G = g.matrix(idx.numel(), C);
        for (std::int64_t i = 0; i < idx.numel(); ++i) dW.row(idx.data()[i]) += G.row(i);
    });
    return out;
}

}  // namespace babygpt
