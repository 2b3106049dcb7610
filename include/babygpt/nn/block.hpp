#pragma once
// Block: a transformer block, communication followed by computation, each on a residual path. As the
// reference builds it (Pre-LN), each sublayer reads a normalised copy of the residual stream:
//   x = x + sa(ln1(x))
//   x = x + ffwd(ln2(x))
// The LayerNorms can sit elsewhere (NormPlacement), for studying what they do:
//   post (the original Transformer's):  x = ln1(x + sa(x));  x = ln2(x + ffwd(x))
//   none (the tutorial's step 8):       x = x + sa(x);       x = x + ffwd(x)
// forward_cached is the same block for generation, one new position at a time (see
// MultiHeadAttention::forward_cached), and forward_observed the same block keeping what its parts
// produced (for instruments such as babygpt train --log-stats); all run through one function, so they
// cannot disagree.

#include <memory>
#include <string>

#include "babygpt/error.hpp"
#include "babygpt/nn/attention.hpp"
#include "babygpt/nn/feed_forward.hpp"
#include "babygpt/nn/layer_norm.hpp"
#include "babygpt/ops/elementwise.hpp"

namespace babygpt {

/// Where a model's LayerNorms sit: before each sublayer plus one before the lm_head (pre, the
/// reference's), after each residual addition and no final one (post), or nowhere (none).
enum class NormPlacement { pre, post, none };

inline const char* norm_placement_name(NormPlacement norm) {
    switch (norm) {
        case NormPlacement::pre: return "pre";
        case NormPlacement::post: return "post";
        default: return "none";
    }
}

/// "pre", "post" or "none"; anything else throws, naming `what` (e.g. "--norm") and the choices.
inline NormPlacement parse_norm_placement(const std::string& name, const std::string& what = "norm") {
    if (name == "pre") return NormPlacement::pre;
    if (name == "post") return NormPlacement::post;
    BABYGPT_CHECK(name == "none", what, ": unknown LayerNorm placement '", name, "'; choose pre, post or none");
    return NormPlacement::none;
}

}  // namespace babygpt

namespace babygpt::nn {

/// What one forward pass of a Block produced: its input and output (the residual stream entering and
/// leaving it) and the outputs of its attention and feed-forward sublayers, each (B, T, C).
template <typename T>
struct BlockActivations {
    Tensor<T> input, attention, feed_forward, output;
};

template <typename T>
class Block : public Module<T> {
public:
    Block(std::int64_t n_embed, std::int64_t n_head, std::int64_t block_size, double dropout, Generator& gen,
          NormPlacement norm = NormPlacement::pre)
        : sa(n_embed, n_head, block_size, dropout, gen), ffwd(n_embed, dropout, gen), norm(norm) {
        this->register_module("sa", sa);
        this->register_module("ffwd", ffwd);
        if (norm == NormPlacement::none) return;
        ln1 = std::make_unique<LayerNorm<T>>(n_embed);
        ln2 = std::make_unique<LayerNorm<T>>(n_embed);
        this->register_module("ln1", *ln1);
        this->register_module("ln2", *ln2);
    }

    /// (B, T, C) -> (B, T, C)
    Tensor<T> forward(const Tensor<T>& x) const {
        return around(x, [this](const Tensor<T>& h) { return sa.forward(h); }, ffwd_forward());
    }

    /// (B, 1, C) -> (B, 1, C): the new position at cache.length, attending to the cached ones.
    Tensor<T> forward_cached(const Tensor<T>& x, AttentionCache<T>& cache) const {
        return around(x, [this, &cache](const Tensor<T>& h) { return sa.forward_cached(h, cache); }, ffwd_forward());
    }

    /// forward(), keeping its input, its sublayers' outputs and its output in `seen`.
    Tensor<T> forward_observed(const Tensor<T>& x, BlockActivations<T>& seen) const {
        seen.input = x;
        seen.output = around(x, [this, &seen](const Tensor<T>& h) { return seen.attention = sa.forward(h); },
                             [this, &seen](const Tensor<T>& h) { return seen.feed_forward = ffwd.forward(h); });
        return seen.output;
    }

    MultiHeadAttention<T> sa;
    FeedForward<T> ffwd;
    std::unique_ptr<LayerNorm<T>> ln1, ln2;  // null when norm is none
    NormPlacement norm;

private:
    auto ffwd_forward() const {
        return [this](const Tensor<T>& h) { return ffwd.forward(h); };
    }

    /// The block, with `attend` as its attention (sa.forward, or sa.forward_cached) and `compute` as its
    /// feed-forward (ffwd.forward).
    template <typename Attend, typename Compute>
    Tensor<T> around(Tensor<T> x, const Attend& attend, const Compute& compute) const {
        switch (norm) {
            case NormPlacement::pre:  // each sublayer reads a normalised copy; the stream itself is not normalised
                x = x + attend(ln1->forward(x));
                return x + compute(ln2->forward(x));
            case NormPlacement::post:  // each residual sum is normalised
                x = ln1->forward(x + attend(x));
                return ln2->forward(x + compute(x));
            default:  // none
                x = x + attend(x);
                return x + compute(x);
        }
    }
};

}  // namespace babygpt::nn
