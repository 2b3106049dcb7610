#pragma once
// The modules of steps 4 to 7 that the finished model no longer has. From step 8 on, the library's own
// nn::MultiHeadAttention, nn::FeedForward and nn::Block are the tutorial's (step 8 is nn::Block with
// NormPlacement::none). Names are the tutorial's, so that the state_dicts match.

#include <memory>
#include <string>
#include <vector>

#include <babygpt/nn/activation.hpp>
#include <babygpt/nn/attention.hpp>
#include <babygpt/nn/linear.hpp>
#include <babygpt/nn/sequential.hpp>
#include <babygpt/ops/elementwise.hpp>
#include <babygpt/ops/shape_ops.hpp>

#include "language_model_frame.hpp"

namespace tutorial {

using babygpt::Generator;
using babygpt::Tensorf;
namespace nn = babygpt::nn;

/// Step 4: n_head heads of size C / n_head side by side, without the projection step 8 adds.
class MultiHeadConcat : public nn::Module<float> {
public:
    MultiHeadConcat(std::int64_t n_embed, std::int64_t n_head, std::int64_t block_size, Generator& gen) {
        for (std::int64_t h = 0; h < n_head; ++h) {
            heads.push_back(std::make_unique<nn::Head<float>>(n_embed, n_embed / n_head, block_size, 0.0, gen));
            register_module("heads." + std::to_string(h), *heads.back());
        }
    }

    /// (B, T, C) -> (B, T, C): every head's (B, T, C / n_head) output, concatenated.
    Tensorf forward(const Tensorf& x) const {
        std::vector<Tensorf> outputs;
        for (const auto& head : heads) outputs.push_back(head->forward(x));
        return babygpt::concat(outputs);
    }

    std::vector<std::unique_ptr<nn::Head<float>>> heads;
};

/// Step 5: computation after communication, Linear(C, C) then ReLU (step 8 widens it to 4C and back).
class ReluFeedForward : public nn::Module<float> {
public:
    ReluFeedForward(std::int64_t n_embed, Generator& gen) {
        net.push_back(std::make_unique<nn::Linear<float>>(n_embed, n_embed, true, gen));
        net.push_back(std::make_unique<nn::ReLU<float>>());
        register_module("net", net);
    }

    /// (B, T, C) -> (B, T, C)
    Tensorf forward(const Tensorf& x) const { return net.forward(x); }

    nn::Sequential<float> net;
};

/// Steps 6 and 7: attention then feed-forward, stacked n_layer times; step 7 puts each on a residual
/// path (x + sa(x)), which lets the gradient reach the lower blocks undiminished.
class EarlyBlock : public nn::Module<float> {
public:
    EarlyBlock(std::int64_t n_embed, std::int64_t n_head, std::int64_t block_size, bool residual, Generator& gen)
        : sa(n_embed, n_head, block_size, gen), ffwd(n_embed, gen), residual(residual) {
        register_module("sa", sa);
        register_module("ffwd", ffwd);
    }

    /// (B, T, C) -> (B, T, C)
    Tensorf forward(Tensorf x) const {
        if (!residual) return ffwd.forward(sa.forward(x));  // step 6
        x = x + sa.forward(x);                               // step 7
        return x + ffwd.forward(x);
    }

    MultiHeadConcat sa;
    ReluFeedForward ffwd;
    bool residual;
};

/// The model of steps 6 and 7: n_layer EarlyBlocks between the embeddings and the lm_head.
///     x = embed(idx);  x = blocks(x);  logits = lm_head(x)
class StackedBlocksModel : public LanguageModelFrame {
public:
    StackedBlocksModel(std::int64_t vocab_size, std::int64_t n_embed, std::int64_t n_head, std::int64_t n_layer,
                       std::int64_t block_size, bool residual, Generator& gen)
        : LanguageModelFrame(vocab_size, n_embed, block_size, gen) {
        for (std::int64_t l = 0; l < n_layer; ++l)
            blocks.push_back(std::make_unique<EarlyBlock>(n_embed, n_head, block_size, residual, gen));
        register_module("blocks", blocks);
    }

    /// idx (B, T) -> logits (B, T, V)
    Tensorf forward(const babygpt::IndexTensor& idx) const { return lm_head.forward(blocks.forward(embed(idx))); }

    nn::Sequential<float> blocks;
};

}  // namespace tutorial
