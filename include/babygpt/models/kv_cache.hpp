#pragma once
// KVCacheDecoder: BabyGPT's forward pass one position at a time, for generation.
//
// A full forward over T positions recomputes every key and value of the context for each new token.
// While the context still fits in block_size, the keys and values of earlier positions do not change,
// so the decoder keeps them per layer (nn::AttentionCache, (B, block_size, C) each) and computes only
// the new position: O(T) work per token instead of O(T^2). Once the context exceeds block_size, the
// reference crops it to the last block_size tokens, which shifts every position embedding: nothing
// cached stays valid, and generate() falls back to a full forward of the window.
//
// The computation is the model's own: GPT::forward_cached runs Block::forward_cached and
// MultiHeadAttention::forward_cached, next to their forward(). The decoder only keeps the caches and
// feeds them one position after the other. Inference only: no graph, no dropout (generate() uses the
// cache in eval mode or with dropout 0). The model's weights must not change while a decoder is in use
// (each cache keeps its layer's stacked QKV weight).

#include <algorithm>
#include <vector>

#include "babygpt/nn/attention.hpp"

namespace babygpt {

template <typename T>
class GPT;

template <typename T>
class KVCacheDecoder {
public:
    KVCacheDecoder(const GPT<T>& model, std::int64_t batch)
        : model_(model), B_(batch), tokens_(IndexTensor::empty({batch, 1})) {
        const auto& c = model.config;
        for (std::int64_t l = 0; l < c.n_layer; ++l) caches_.emplace_back(batch, c.block_size, c.n_embed);
    }

    /// Number of positions already in the cache.
    std::int64_t length() const { return caches_.front().length; }

    /// Feeds one token per row at the next position; returns the logits there, (B, V).
    Tensor<T> step(const std::vector<std::int64_t>& tokens) {
        const std::int64_t block_size = model_.config.block_size;
        BABYGPT_CHECK(static_cast<std::int64_t>(tokens.size()) == B_, "KVCacheDecoder::step: ", tokens.size(),
                      " tokens for ", B_, " rows");
        BABYGPT_CHECK(length() < block_size, "KVCacheDecoder::step: the cache is full (block_size ", block_size, ")");
        std::copy(tokens.begin(), tokens.end(), tokens_.data());
        return model_.forward_cached(tokens_, length(), caches_);  // (B, V)
    }

private:
    const GPT<T>& model_;
    std::int64_t B_;
    IndexTensor tokens_;                           // (B, 1): this step's token ids
    std::vector<nn::AttentionCache<T>> caches_;    // per layer: the keys and values of positions 0..length-1
};

}  // namespace babygpt
