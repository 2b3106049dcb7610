#pragma once
// Block: a Pre-LN transformer block, communication followed by computation, each on a residual path:
//   x = x + sa(ln1(x))
//   x = x + ffwd(ln2(x))
// forward_cached is the same block for generation, one new position at a time (see
// MultiHeadAttention::forward_cached); a change to the block's structure belongs in both.

#include "babygpt/nn/attention.hpp"
#include "babygpt/nn/feed_forward.hpp"
#include "babygpt/nn/layer_norm.hpp"
#include "babygpt/ops/elementwise.hpp"

namespace babygpt::nn {

template <typename T>
class Block : public Module<T> {
public:
    Block(std::int64_t n_embed, std::int64_t n_head, std::int64_t block_size, double dropout, Generator& gen)
        : sa(n_embed, n_head, block_size, dropout, gen), ffwd(n_embed, dropout, gen), ln1(n_embed), ln2(n_embed) {
        this->register_module("sa", sa);
        this->register_module("ffwd", ffwd);
        this->register_module("ln1", ln1);
        this->register_module("ln2", ln2);
    }

    /// (B, T, C) -> (B, T, C)
    Tensor<T> forward(Tensor<T> x) const {
        x = x + sa.forward(ln1.forward(x));
        x = x + ffwd.forward(ln2.forward(x));
        return x;
    }

    /// (B, 1, C) -> (B, 1, C): the new position at cache.length, attending to the cached ones.
    Tensor<T> forward_cached(Tensor<T> x, AttentionCache<T>& cache) const {
        x = x + sa.forward_cached(ln1.forward(x), cache);
        x = x + ffwd.forward(ln2.forward(x));
        return x;
    }

    MultiHeadAttention<T> sa;
    FeedForward<T> ffwd;
    LayerNorm<T> ln1, ln2;
};

}  // namespace babygpt::nn
