#pragma once
// KVCacheDecoder: BabyGPT's forward pass one position at a time, for generation.
//
// A full forward over T positions recomputes every key and value of the context for each new token.
// While the context still fits in block_size, the keys and values of earlier positions do not change,
// so the decoder keeps them per layer, (B, block_size, C) each, and computes only the new position:
// O(T) work per token instead of O(T^2). Once the context exceeds block_size, the reference crops it
// to the last block_size tokens, which shifts every position embedding: nothing cached stays valid,
// and generate() falls back to a full forward of the window.
//
// Everything but the attention itself runs the model's own modules on a (B, 1, C) tensor, as
// GPT::forward and Block::forward do; only the attention of the new position's query over the cached
// keys and values is computed here. Inference only: the steps run under NoGradGuard, and the cached
// attention applies no dropout (generate() uses the cache in eval mode or with dropout 0). The model's
// weights must not change while a decoder is in use (it keeps each layer's stacked QKV weight).

#include <algorithm>
#include <cmath>
#include <vector>

#include "babygpt/nn/block.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/linear.hpp"
#include "babygpt/ops/shape_ops.hpp"

namespace babygpt {

template <typename T>
class GPT;

template <typename T>
class KVCacheDecoder {
public:
    using Matrix = typename Tensor<T>::Matrix;

    KVCacheDecoder(const GPT<T>& model, std::int64_t batch)
        : model_(model),
          B_(batch),
          tokens_(IndexTensor::empty({batch, 1})),
          position_(IndexTensor::empty({1})),
          scores_(model.config.block_size) {
        NoGradGuard no_grad;  // the stacked weights are an inference copy, outside any graph
        const std::int64_t C = model.config.n_embed, block = model.config.block_size;
        for (const auto& block_ptr : model.blocks) {
            qkv_weights_.push_back(block_ptr->sa.qkv_weight());  // (3C, C), stacked once for every step
            keys_.emplace_back(B_ * block, C);
            values_.emplace_back(B_ * block, C);
        }
    }

    /// Number of positions already in the cache.
    std::int64_t length() const { return length_; }

    /// Feeds one token per row at the next position; returns the logits there, (B, V).
    Tensor<T> step(const std::vector<std::int64_t>& tokens) {
        const auto& c = model_.config;
        BABYGPT_CHECK(static_cast<std::int64_t>(tokens.size()) == B_, "KVCacheDecoder::step: ", tokens.size(),
                      " tokens for ", B_, " rows");
        BABYGPT_CHECK(length_ < c.block_size, "KVCacheDecoder::step: the cache is full (block_size ", c.block_size, ")");
        NoGradGuard no_grad;
        std::copy(tokens.begin(), tokens.end(), tokens_.data());
        position_.data()[0] = length_;
        Tensor<T> x = model_.token_embedding_table.forward(tokens_) +
                      model_.postion_embedding_table.forward(position_);  // (B, 1, C)
        for (std::size_t l = 0; l < model_.blocks.size(); ++l) {
            const nn::Block<T>& block = *model_.blocks[l];
            const Tensor<T> qkv = linear(block.ln1.forward(x), qkv_weights_[l]);  // (B, 1, 3C)
            x = x + block.sa.dropout->forward(block.sa.proj->forward(attend(l, qkv)));  // x + sa(ln1(x))
            x = x + block.ffwd.forward(block.ln2.forward(x));                             // x + ffwd(ln2(x))
        }
        ++length_;
        const Tensor<T> logits = model_.lm_head.forward(model_.ln_final.forward(x));  // (B, 1, V)
        return reshape(logits, {B_, c.vocab_size});
    }

private:
    /// Stores the new position's keys and values of layer l, and returns its causal self-attention
    /// over positions 0..length_ (B, 1, C): softmax(q k^T / sqrt(hs)) v per head, heads concatenated.
    Tensor<T> attend(std::size_t l, const Tensor<T>& qkv_tensor) {
        const auto& c = model_.config;
        const std::int64_t C = c.n_embed, p = length_, hs = C / c.n_head;
        const T scale = T(1) / std::sqrt(static_cast<T>(hs));
        const auto qkv = qkv_tensor.matrix(B_, 3 * C);  // row b: [q of all heads, k, v]
        Tensor<T> out = Tensor<T>::empty({B_, 1, C});
        auto att = out.matrix(B_, C);
        auto scores = scores_.head(p + 1);
        Matrix& K = keys_[l];
        Matrix& V = values_[l];
        for (std::int64_t b = 0; b < B_; ++b) {
            const std::int64_t base = b * c.block_size;  // row of position 0 of this batch entry
            K.row(base + p) = qkv.row(b).segment(C, C);
            V.row(base + p) = qkv.row(b).segment(2 * C, C);
            for (std::int64_t head = 0; head < c.n_head; ++head) {
                const auto q = qkv.row(b).segment(head * hs, hs);
                const auto keys = K.block(base, head * hs, p + 1, hs);        // (p+1, hs)
                scores = (keys * q.transpose()).transpose().array() * scale;  // (p+1)
                scores = (scores - scores.maxCoeff()).exp();
                scores /= scores.sum();
                att.row(b).segment(head * hs, hs) = scores.matrix() * V.block(base, head * hs, p + 1, hs);  // (hs)
            }
        }
        return out;
    }

    const GPT<T>& model_;
    std::int64_t B_;
    std::int64_t length_ = 0;
    IndexTensor tokens_;    // (B, 1): this step's token ids
    IndexTensor position_;  // (1): this step's position
    Eigen::Array<T, 1, Eigen::Dynamic> scores_;  // scratch: one head's attention weights
    std::vector<Tensor<T>> qkv_weights_;         // per layer: MultiHeadAttention::qkv_weight(), (3C, C)
    std::vector<Matrix> keys_, values_;          // per layer: (B * block_size, C), row b * block_size + position
};

}  // namespace babygpt
