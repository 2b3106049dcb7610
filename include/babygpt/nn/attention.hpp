#pragma once
// Causal self-attention, as the reference builds it: n_head Heads of size hs = C / n_head, each with
// its own key/query/value projections (bias-free), outputs concatenated and projected back to C.
//
// MultiHeadAttention keeps the reference's per-head parameters (so state_dict names and shapes match
// "sa.heads.{h}.key.weight" exactly) but computes all heads at once: it stacks the 3 * n_head weight
// matrices into one (3C, C) matrix (qkv_weight()) for a single QKV GEMM and runs the fused attention
// kernel.
// Head::forward is the plain, unfused formulation: reference_forward() composes the heads as the
// reference does, and forward() runs it under ReferenceMode (reference_mode.hpp).
//
// For generation, MultiHeadAttention::forward_cached computes one new position at a time against an
// AttentionCache of the keys and values of the positions before it (models/kv_cache.hpp drives it).

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
#include "babygpt/reference_mode.hpp"

namespace babygpt::nn {

/// One head of causal self-attention.
template <typename T>
class Head : public Module<T> {
public:
    Head(std::int64_t n_embed, std::int64_t head_size, std::int64_t block_size, double dropout_p, Generator& gen)
        : key(n_embed, head_size, false, gen),
          query(n_embed, head_size, false, gen),
          value(n_embed, head_size, false, gen),
          dropout(dropout_p, gen) {
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

/// One layer's keys and values of the positions seen so far, for MultiHeadAttention::forward_cached:
/// B sequences of up to block_size positions. Inference only (no graph).
template <typename T>
struct AttentionCache {
    AttentionCache(std::int64_t batch, std::int64_t block_size, std::int64_t n_embed)
        : keys(Tensor<T>::empty({batch, block_size, n_embed})),
          values(Tensor<T>::empty({batch, block_size, n_embed})),
          scores(block_size) {}

    std::int64_t batch() const { return keys.size(0); }
    std::int64_t block_size() const { return keys.size(1); }

    Tensor<T> keys, values;   // (B, block_size, C), heads side by side; positions 0..length-1 are filled
    std::int64_t length = 0;  // positions stored
    // MultiHeadAttention::qkv_weight() (3C, C), stacked once at the first position rather than at every
    // one: the module's weights must not change while the cache is in use.
    Tensor<T> qkv_weight;
    Eigen::Array<T, 1, Eigen::Dynamic> scores;  // scratch: one head's attention weights, (length)
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
        if (ReferenceMode::is_enabled()) return reference_forward(x);
        const Tensor<T> qkv = linear(x, qkv_weight());  // (B, T, 3C): one GEMM for every head
        // The attention weights' dropout is the heads' (Head::dropout in the reference), p the same in each.
        const Tensor<T> att =
            causal_self_attention(qkv, n_head, heads.front()->dropout.p, this->is_training(), *gen_);
        return dropout->forward(proj->forward(att));  // (B, T, C)
    }

    /// The reference's formulation, which forward() computes fused: every head on its own, their
    /// outputs side by side, projected back to C. (Its attention dropout draws from each Head's own
    /// generator, so with dropout in training mode the two agree in distribution, not value.)
    Tensor<T> reference_forward(const Tensor<T>& x) const {
        std::vector<Tensor<T>> outputs;
        for (const auto& head : heads) outputs.push_back(head->forward(x));  // n_head x (B, T, hs)
        return dropout->forward(proj->forward(concat(outputs)));           // (B, T, C)
    }

    /// Generation, one position at a time: x (B, 1, C) is position p = cache.length of each sequence;
    /// its key and value join the cache, and its query attends to positions 0..p:
    ///   out = proj(concat_h softmax(q_h k_h^T / sqrt(hs)) v_h)   (B, 1, C)
    /// the last row of forward() on the whole sequence. Inference: no dropout, no graph.
    Tensor<T> forward_cached(const Tensor<T>& x, AttentionCache<T>& cache) const {
        NoGradGuard no_grad;
        const std::int64_t C = proj->weight.size(0);
        BABYGPT_CHECK(x.dim() == 3 && x.size(0) == cache.batch() && x.size(1) == 1 && x.size(2) == C,
                      "MultiHeadAttention::forward_cached: x must be (", cache.batch(), ", 1, ", C,
                      ") (one new position per sequence), got ", to_string(x.shape()));
        BABYGPT_CHECK(cache.length < cache.block_size(), "MultiHeadAttention::forward_cached: the cache is full (",
                      cache.block_size(), " positions); start a new one");
        if (cache.length == 0) cache.qkv_weight = qkv_weight();
        const Tensor<T> qkv = linear(x, cache.qkv_weight);  // (B, 1, 3C): per row [q of all heads, k, v]
        const Tensor<T> att = attend_cached(qkv, cache);    // (B, 1, C)
        ++cache.length;
        return proj->forward(att);  // (B, 1, C)
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
    /// Stores the new position's keys and values (from qkv (B, 1, 3C)) at cache.length, and returns
    /// softmax(q k^T / sqrt(hs)) v over positions 0..cache.length per head, heads side by side: (B, 1, C).
    Tensor<T> attend_cached(const Tensor<T>& qkv_tensor, AttentionCache<T>& cache) const {
        const std::int64_t B = cache.batch(), block = cache.block_size(), C = qkv_tensor.size(2) / 3;
        const std::int64_t p = cache.length, hs = C / n_head;
        const T scale = T(1) / std::sqrt(static_cast<T>(hs));
        const auto qkv = qkv_tensor.matrix(B, 3 * C);
        auto K = cache.keys.matrix(B * block, C);  // row b * block + position
        auto V = cache.values.matrix(B * block, C);
        auto scores = cache.scores.head(p + 1);     // (p+1)
        Tensor<T> out = Tensor<T>::empty({B, 1, C});
        auto att = out.matrix(B, C);
        for (std::int64_t b = 0; b < B; ++b) {
            const std::int64_t first = b * block;  // row of position 0 of sequence b
            K.row(first + p) = qkv.row(b).segment(C, C);
            V.row(first + p) = qkv.row(b).segment(2 * C, C);
            for (std::int64_t h = 0; h < n_head; ++h) {
                const auto q = qkv.row(b).segment(h * hs, hs);                        // (hs)
                const auto keys = K.block(first, h * hs, p + 1, hs);                   // (p+1, hs)
                scores = (keys * q.transpose()).transpose().array() * scale;          // (p+1)
                scores = (scores - scores.maxCoeff()).exp();                          // softmax, max first
                scores /= scores.sum();
                att.row(b).segment(h * hs, hs) = scores.matrix() * V.block(first, h * hs, p + 1, hs);  // (hs)
            }
        }
        return out;
    }

    Generator* gen_;
};

}  // namespace babygpt::nn
