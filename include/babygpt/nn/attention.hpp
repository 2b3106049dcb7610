#pragma once
// Causal self-attention, as the reference builds it: n_head Heads of size hs = C / n_head, each with
// its own key/query/value projections (bias-free), outputs concatenated and projected back to C.
//
// MultiHeadAttention keeps the reference's per-head parameters (so state_dict names and shapes match
// "sa.heads.{h}.key.weight" exactly) but computes all heads at once: it stacks the 3 * n_head weight
// matrices into one (3C, C) matrix (qkv_weight()) for a single QKV GEMM and runs the fused attention
// kernel.
// Head::forward is the plain, unfused formulation, kept for reading and as the test's yardstick.

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "babygpt/nn/dropout.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/nn/module.hpp"
#include "babygpt/ops/attention.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/ops/softmax.hpp"

namespace babygpt::nn {

/// One head of causal self-attention.
template <typename T>
class Head : public Module<T> {
public:
    Head(std::int64_t n_embed, std::int64_t head_size, std::int64_t block_size, double dropout, Generator& gen)
        : key(n_embed, head_size, false, gen),
          query(n_embed, head_size, false, gen),
          value(n_embed, head_size, false, gen),
          dropout(dropout, gen) {
        this->register_module("key", key);
        this->register_module("query", query);
        this->register_module("value", value);
        Tensor<T> lower = Tensor<T>::zeros({block_size, block_size});
        for (std::int64_t i = 0; i < block_size; ++i)
            for (std::int64_t j = 0; j <= i; ++j) lower(i, j) = T(1);
        // The reference's mask, (block_size, block_size) lower-triangular ones: exported with the weights
        // (state_dict parity) but never read, as the attention ops mask causally by construction.
        this->register_buffer("tril", lower);
        this->register_module("dropout", this->dropout);
    }

    /// x (B, T, C) -> (B, T, hs), step by step.
    Tensor<T> forward(const Tensor<T>& x) const {
        const Tensor<T> k = key.forward(x);                                   // (B, T, hs)
        const Tensor<T> q = query.forward(x);                                 // (B, T, hs)
        const T scale = T(1) / std::sqrt(static_cast<T>(k.size(-1)));
        Tensor<T> wei = matmul(q, transpose(k)) * scale;                      // (B, T, T)
        wei = causal_mask(wei);                                               // future -> -inf
        wei = dropout.forward(softmax(wei));                                  // (B, T, T)
        return matmul(wei, value.forward(x));                                 // (B, T, hs)
    }

    Linear<T> key, query, value;
    Dropout<T> dropout;
};

/// Multiple heads of self-attention in parallel, then a projection: "communication".
template <typename T>
class MultiHeadAttention : public Module<T> {
public:
    MultiHeadAttention(std::int64_t n_embed, std::int64_t n_head, std::int64_t block_size, double dropout,
                       Generator& gen)
        : n_head(n_head), gen_(&gen) {
        BABYGPT_CHECK(n_head > 0 && n_embed % n_head == 0, "MultiHeadAttention: n_embed = ", n_embed,
                      " is not divisible by n_head = ", n_head);
        for (std::int64_t h = 0; h < n_head; ++h) {
            heads.push_back(std::make_unique<Head<T>>(n_embed, n_embed / n_head, block_size, dropout, gen));
            this->register_module("heads." + std::to_string(h), *heads.back());
        }
        proj = std::make_unique<Linear<T>>(n_embed, n_embed, true, gen);
        this->register_module("proj", *proj);
        this->dropout = std::make_unique<Dropout<T>>(dropout, gen);
        this->register_module("dropout", *this->dropout);
    }

    /// x (B, T, C) -> (B, T, C).
    Tensor<T> forward(const Tensor<T>& x) const {
        const Tensor<T> qkv = linear(x, qkv_weight());  // (B, T, 3C): one GEMM for every head
        // The attention weights' dropout is the heads' (Head::dropout in the reference), p the same in each.
        const Tensor<T> att =
            causal_self_attention(qkv, n_head, heads.front()->dropout.p, this->is_training(), *gen_);
        return dropout->forward(proj->forward(att));  // (B, T, C)
    }

    /// The key/query/value weights of every head stacked into one (3C, C) matrix:
    /// [query of head 0; ...; query of head n-1; keys likewise; values likewise], each block (hs, C),
    /// the layout causal_self_attention expects of linear(x, qkv_weight()). A copy, recorded by autograd
    /// (gradients reach the heads' weights).
    Tensor<T> qkv_weight() const {
        std::vector<Tensor<T>> rows;
        rows.reserve(3 * heads.size());
        for (const auto& h : heads) rows.push_back(h->query.weight);
        for (const auto& h : heads) rows.push_back(h->key.weight);
        for (const auto& h : heads) rows.push_back(h->value.weight);
        return cat_rows(rows);
    }

    std::int64_t n_head;
    std::vector<std::unique_ptr<Head<T>>> heads;
    std::unique_ptr<Linear<T>> proj;
    std::unique_ptr<Dropout<T>> dropout;

private:
    Generator* gen_;
};

}  // namespace babygpt::nn
