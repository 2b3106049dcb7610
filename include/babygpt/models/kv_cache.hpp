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
// Inference only: no autograd, no dropout (it is meant for eval mode), plain Eigen on the weights.

#include <cmath>
#include <vector>

#include "babygpt/nn/block.hpp"

namespace babygpt {

template <typename T>
class GPT;

template <typename T>
class KVCacheDecoder {
public:
    using Matrix = typename Tensor<T>::Matrix;
    using Row = Eigen::Array<T, 1, Eigen::Dynamic>;

    KVCacheDecoder(const GPT<T>& model, std::int64_t batch) : model_(model), B_(batch) {
        const std::int64_t C = model.config.n_embed, block = model.config.block_size;
        for (const auto& block_ptr : model.blocks) {
            // The per-head projection weights stacked as in MultiHeadAttention: (3C, C) = [q; k; v].
            Matrix w(3 * C, C);
            std::int64_t row = 0;
            for (int part = 0; part < 3; ++part)
                for (const auto& head : block_ptr->sa.heads) {
                    const Tensor<T>& hw = part == 0 ? head->query.weight : part == 1 ? head->key.weight : head->value.weight;
                    w.middleRows(row, hw.size(0)) = hw.matrix();
                    row += hw.size(0);
                }
            qkv_weights_.push_back(std::move(w));
            keys_.emplace_back(B_ * block, C);
            values_.emplace_back(B_ * block, C);
        }
    }

    /// Number of positions already in the cache.
    std::int64_t length() const { return length_; }

    /// Feeds one token per row at the next position; returns the logits there, (B, V).
    Matrix step(const std::vector<std::int64_t>& tokens) {
        const auto& c = model_.config;
        BABYGPT_CHECK(static_cast<std::int64_t>(tokens.size()) == B_, "KVCacheDecoder::step: ", tokens.size(),
                      " tokens for ", B_, " rows");
        BABYGPT_CHECK(length_ < c.block_size, "KVCacheDecoder::step: the cache is full (block_size ", c.block_size, ")");
        const std::int64_t C = c.n_embed, p = length_, hs = C / c.n_head;
        const T scale = T(1) / std::sqrt(static_cast<T>(hs));

        Matrix x(B_, C);  // (B, C): token embedding + position embedding
        for (std::int64_t b = 0; b < B_; ++b)
            x.row(b) = model_.token_embedding_table.weight.matrix().row(tokens[b]) +
                       model_.postion_embedding_table.weight.matrix().row(p);
        Matrix h(B_, C), qkv(B_, 3 * C), att(B_, C);
        Row scores(p + 1);
        for (std::size_t l = 0; l < model_.blocks.size(); ++l) {
            const nn::Block<T>& block = *model_.blocks[l];
            layer_norm_rows(x, block.ln1, h);
            qkv.noalias() = h * qkv_weights_[l].transpose();  // (B, 3C)
            Matrix& K = keys_[l];
            Matrix& V = values_[l];
            for (std::int64_t b = 0; b < B_; ++b) {
                const std::int64_t base = b * c.block_size;  // row of position 0 of this batch entry
                K.row(base + p) = qkv.row(b).segment(C, C);
                V.row(base + p) = qkv.row(b).segment(2 * C, C);
                for (std::int64_t head = 0; head < c.n_head; ++head) {
                    const auto q = qkv.row(b).segment(head * hs, hs);
                    const auto keys = K.block(base, head * hs, p + 1, hs);      // (p+1, hs)
                    scores = (keys * q.transpose()).transpose().array() * scale;  // (p+1)
                    scores = (scores - scores.maxCoeff()).exp();
                    scores /= scores.sum();
                    att.row(b).segment(head * hs, hs) =
                        scores.matrix() * V.block(base, head * hs, p + 1, hs);  // (hs)
                }
            }
            x += linear_rows(att, *block.sa.proj);                               // x + sa(ln1(x))
            layer_norm_rows(x, block.ln2, h);
            const auto& net = block.ffwd.net;
            Matrix hidden = linear_rows(h, layer<nn::Linear<T>>(net, 0)).cwiseMax(T(0));  // (B, 4C), ReLU
            x += linear_rows(hidden, layer<nn::Linear<T>>(net, 2));                // x + ffwd(ln2(x))
        }
        layer_norm_rows(x, model_.ln_final, h);
        ++length_;
        return linear_rows(h, model_.lm_head);  // (B, V)
    }

private:
    template <typename M>
    static const M& layer(const nn::Sequential<T>& net, std::size_t i) {
        return net.template at<M>(i);
    }

    /// x W^T + b for a Linear layer, on rows.
    static Matrix linear_rows(const Matrix& x, const nn::Linear<T>& fc) {
        Matrix y = x * fc.weight.matrix().transpose();
        if (fc.bias.defined()) y.rowwise() += fc.bias.matrix(1, fc.bias.numel()).row(0);
        return y;
    }

    static void layer_norm_rows(const Matrix& x, const nn::LayerNorm<T>& ln, Matrix& out) {
        const auto w = ln.weight.matrix(1, ln.weight.numel()).array();
        const auto b = ln.bias.matrix(1, ln.bias.numel()).array();
        for (Eigen::Index r = 0; r < x.rows(); ++r) {
            const T mean = x.row(r).mean();
            const T var = (x.row(r).array() - mean).square().mean();
            out.row(r).array() = (x.row(r).array() - mean) / std::sqrt(var + static_cast<T>(ln.eps)) * w + b;
        }
    }

    const GPT<T>& model_;
    std::int64_t B_;
    std::int64_t length_ = 0;
    std::vector<Matrix> qkv_weights_;
    std::vector<Matrix> keys_, values_;  // per layer: (B * block_size, C), row b * block_size + position
};

}  // namespace babygpt
