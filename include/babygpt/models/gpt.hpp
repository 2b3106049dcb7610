#pragma once
// BabyGPT: a character-level GPT as the reference tutorial builds it:
//   token + position embeddings -> n_layer Pre-LN Blocks -> final LayerNorm -> lm_head -> logits.
// GPTConfig::norm moves the LayerNorms (post: after each residual addition, no final one) or removes
// them (none), for studying what they do; pre is the reference.
// Parameter names are the reference's state_dict keys (including its "postion_embedding_table").

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "babygpt/activation_checkpoint.hpp"
#include "babygpt/models/kv_cache.hpp"
#include "babygpt/nn/block.hpp"
#include "babygpt/nn/embedding.hpp"
#include "babygpt/nn/layer_norm.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/ops/linear_cross_entropy.hpp"
#include "babygpt/ops/loss.hpp"

namespace babygpt {

/// The model's hyperparameters. The defaults are the reference's v9 preset (vocab_size has no default:
/// it comes from the data).
struct GPTConfig {
    std::int64_t vocab_size = 0;   // number of distinct characters
    std::int64_t block_size = 8;   // maximum context length T
    std::int64_t n_embed = 32;     // embedding width C
    std::int64_t n_head = 4;       // attention heads; head_size = n_embed / n_head
    std::int64_t n_layer = 3;      // transformer blocks
    double dropout = 0.0;          // dropout probability in training (v10+)
    NormPlacement norm = NormPlacement::pre;  // where the LayerNorms sit (nn/block.hpp); pre: the reference

    // Upper bounds: far beyond what this library trains on a CPU, low enough that no product of sizes
    // overflows, and a checkpoint's metadata cannot ask for an absurd model (io::config_from_checkpoint
    // also checks the file's tensors against the configuration before anything is built).
    static constexpr std::int64_t max_vocab_size = std::int64_t(1) << 21;  // > 0x110000: every code point
    static constexpr std::int64_t max_block_size = std::int64_t(1) << 15;  // one mask: 2^30 elements
    static constexpr std::int64_t max_n_embed = std::int64_t(1) << 14;     // one block: 12 * 2^28
    static constexpr std::int64_t max_n_head = std::int64_t(1) << 10;
    static constexpr std::int64_t max_n_layer = std::int64_t(1) << 10;
    /// Parameters plus buffers (the attention masks): 2^32 elements, 16 GiB as float.
    static constexpr std::int64_t max_state_elements = std::int64_t(1) << 32;

    /// Throws babygpt::Error naming the first invalid field and how to fix it.
    void validate() const {
        BABYGPT_CHECK(vocab_size > 0, "GPTConfig: vocab_size must be positive, got ", vocab_size);
        BABYGPT_CHECK(block_size > 0, "GPTConfig: block_size must be positive, got ", block_size);
        BABYGPT_CHECK(n_embed > 0, "GPTConfig: n_embed must be positive, got ", n_embed);
        BABYGPT_CHECK(n_head > 0, "GPTConfig: n_head must be positive, got ", n_head);
        BABYGPT_CHECK(n_layer > 0, "GPTConfig: n_layer must be positive, got ", n_layer);
        check_at_most("vocab_size", vocab_size, max_vocab_size, "use a text with fewer distinct characters");
        check_at_most("block_size", block_size, max_block_size, "use a shorter context");
        check_at_most("n_embed", n_embed, max_n_embed, "use a narrower model");
        check_at_most("n_head", n_head, max_n_head, "use fewer heads");
        check_at_most("n_layer", n_layer, max_n_layer, "use fewer layers");
        BABYGPT_CHECK(n_embed % n_head == 0, "GPTConfig: n_embed (", n_embed, ") must be divisible by n_head (",
                      n_head, "); e.g. n_embed ", (n_embed / n_head + 1) * n_head, " or n_head ", largest_divisor());
        BABYGPT_CHECK(dropout >= 0.0 && dropout < 1.0, "GPTConfig: dropout must be in [0, 1), got ", dropout);
        const std::int64_t elements = state_elements();
        BABYGPT_CHECK(elements <= max_state_elements, "GPTConfig: the model would hold ", elements,
                      " parameters and mask elements, more than the limit of ", max_state_elements,
                      " (16 GiB as float); use a smaller n_layer, n_embed, n_head or block_size");
    }

    /// Elements of every parameter and buffer of GPT<T>(*this): its state_dict, counted without building
    /// it. Per block: attention 3 C^2 (key, query, value) + H T^2 (the heads' tril masks) + C^2 + C
    /// (projection); feed-forward 4 C^2 + 4C + 4 C^2 + C; two LayerNorms 4C (unless norm is none).
    /// Around the blocks: the embeddings V C + T C, the final LayerNorm 2C (norm pre), lm_head C V + V. Checked arithmetic: throws if the
    /// count overflows an int64 (validate() calls it only within the bounds above, where it cannot).
    std::int64_t state_elements() const {
        const std::int64_t V = vocab_size, T = block_size, C = n_embed, H = n_head;
        auto mul = [](std::int64_t a, std::int64_t b) {
            std::int64_t product = 0;
            BABYGPT_CHECK(a >= 0 && b >= 0 && detail::multiply_fits(a, b, product),
                          "GPTConfig: the parameter count overflows a 64-bit integer; use smaller sizes");
            return product;
        };
        auto add = [](std::int64_t a, std::int64_t b) {
            BABYGPT_CHECK(a <= std::numeric_limits<std::int64_t>::max() - b,
                          "GPTConfig: the parameter count overflows a 64-bit integer; use smaller sizes");
            return a + b;
        };
        const std::int64_t C2 = mul(C, C);
        const std::int64_t block_norms = norm == NormPlacement::none ? 0 : 4;  // ln1, ln2: 4C
        const std::int64_t final_norm = norm == NormPlacement::pre ? 2 : 0;    // ln_final: 2C
        const std::int64_t per_block = add(add(mul(12, C2), mul(H, mul(T, T))), mul(6 + block_norms, C));
        std::int64_t total = add(mul(2, mul(V, C)), mul(T, C));
        total = add(total, add(V, mul(final_norm, C)));
        return add(total, mul(n_layer, per_block));
    }

private:
    static void check_at_most(const char* field, std::int64_t value, std::int64_t bound, const char* fix) {
        BABYGPT_CHECK(value <= bound, "GPTConfig: ", field, " must be at most ", bound, ", got ", value, "; ", fix);
    }

    std::int64_t largest_divisor() const {  // the largest n_head <= the given one that divides n_embed
        for (std::int64_t h = std::min(n_head, n_embed); h > 1; --h)
            if (n_embed % h == 0) return h;
        return 1;
    }
};

/// How generate() picks each next token.
struct SamplingOptions {
    double temperature = 1.0;  // > 0; below 1 sharpens the distribution, above 1 flattens it
    std::int64_t top_k = 0;    // 0: sample from every token; k: only from the k most likely
};

/// Draws one token from softmax(logits / temperature) over V logits, restricted to the top_k largest if
/// top_k > 0. `probs` is scratch of exactly V doubles (reused across calls, so that sampling allocates
/// nothing per token).
template <typename Scalar>
std::int64_t sample_token(const Scalar* logits, std::int64_t V, const SamplingOptions& options, Generator& gen,
                          std::vector<double>& probs) {
    double threshold = -std::numeric_limits<double>::infinity();
    if (options.top_k > 0 && options.top_k < V) {  // probs as the scratch for the k-th largest logit
        std::copy(logits, logits + V, probs.begin());
        std::nth_element(probs.begin(), probs.begin() + (options.top_k - 1), probs.end(), std::greater<>());
        threshold = probs[static_cast<std::size_t>(options.top_k - 1)];
    }
    double max_logit = -std::numeric_limits<double>::infinity();
    for (std::int64_t v = 0; v < V; ++v) max_logit = std::max(max_logit, static_cast<double>(logits[v]));
    double total = 0;
    for (std::int64_t v = 0; v < V; ++v) {
        const double x = logits[v];
        probs[v] = x >= threshold ? std::exp((x - max_logit) / options.temperature) : 0.0;
        total += probs[v];
    }
    // Inverse-CDF sampling: the first token whose cumulative probability exceeds u.
    const double u = gen.uniform() * total;
    double cumulative = 0;
    for (std::int64_t v = 0; v < V; ++v) {
        cumulative += probs[v];
        if (u < cumulative) return v;
    }
    for (std::int64_t v = V - 1; v >= 0; --v)  // rounding left u at the very top: the last possible token
        if (probs[v] > 0) return v;
    return V - 1;
}

template <typename Scalar>
struct GPTOutput {
    Tensor<Scalar> logits;  // (B, T, V)
    Tensor<Scalar> loss;    // () mean cross-entropy, undefined when no targets were given
};

/// The BabyGPT language model.
///
///     GPTConfig config;  config.vocab_size = 65;
///     Generator gen(42);
///     GPT<float> model(config, gen);
///     IndexTensor idx = IndexTensor::rand({4, 8}, gen, 0, 65);      // (B, T) token ids
///     IndexTensor targets = IndexTensor::rand({4, 8}, gen, 0, 65);  // (B, T) the next tokens
///     auto [logits, loss] = model.forward(idx, targets);  // (B, T) ids -> (B, T, V), ()
///     loss.backward();
template <typename Scalar>
class GPT : public nn::Module<Scalar> {
public:
    /// Initial weights come from gen: its first draw seeds the blocks' own generator (their weights, then
    /// their dropout masks in training), the next ones the embeddings and the lm_head.
    GPT(const GPTConfig& config, Generator& gen) : GPT(validated(config), gen.next_u64(), gen) {}

    /// idx (B, T) token ids with T <= block_size; targets (B, T) or undefined.
    GPTOutput<Scalar> forward(const IndexTensor& idx, const IndexTensor& targets = IndexTensor()) const {
        GPTOutput<Scalar> out;
        out.logits = lm_head.forward(features(idx));                    // (B, T, V)
        if (targets.defined()) out.loss = cross_entropy(out.logits, targets);  // ()
        return out;
    }

    /// The mean cross-entropy of forward(idx, targets) without materialising the logits: the lm_head and
    /// the loss run as one fused op (ops/linear_cross_entropy.hpp). The same value and gradients as
    /// forward(idx, targets).loss up to rounding, and faster for training and evaluation.
    Tensor<Scalar> loss(const IndexTensor& idx, const IndexTensor& targets) const {
        return linear_cross_entropy(features(idx), lm_head.weight, lm_head.bias, targets);  // ()
    }

    /// forward(idx, targets).loss, keeping what every block produced in `seen` (one entry per block):
    /// for instruments that watch the residual stream (babygpt train --log-stats).
    Tensor<Scalar> loss_observed(const IndexTensor& idx, const IndexTensor& targets,
                                 std::vector<nn::BlockActivations<Scalar>>& seen) const {
        seen.assign(blocks.size(), {});
        return cross_entropy(lm_head.forward(features(idx, &seen)), targets);  // ()
    }

    /// Generation's forward pass at one position: tokens (B, 1) at `position`, which must be the caches'
    /// length (one nn::AttentionCache per block, holding the keys and values of positions 0..position-1
    /// of the same sequences). Returns that position's logits, (B, V): forward(idx).logits[:, position]
    /// for the idx whose earlier columns filled the caches. Runs without a graph and without dropout.
    Tensor<Scalar> forward_cached(const IndexTensor& tokens, std::int64_t position,
                                  std::vector<nn::AttentionCache<Scalar>>& caches) const {
        BABYGPT_CHECK(tokens.dim() == 2 && tokens.size(1) == 1, "GPT::forward_cached: tokens must be (B, 1), got ",
                      to_string(tokens.shape()));
        BABYGPT_CHECK(caches.size() == blocks.size(), "GPT::forward_cached: ", caches.size(), " caches for ",
                      blocks.size(), " blocks; pass one per block");
        BABYGPT_CHECK(position >= 0 && position < config.block_size, "GPT::forward_cached: position ", position,
                      " is outside the context of block_size ", config.block_size, "; start new caches");
        for (const auto& cache : caches)
            BABYGPT_CHECK(cache.length == position, "GPT::forward_cached: position ", position,
                          " does not follow the ", cache.length, " cached positions");
        NoGradGuard no_grad;
        const IndexTensor pos = IndexTensor::full({1}, position);                                  // (1)
        Tensor<Scalar> x = token_embedding_table.forward(tokens) + postion_embedding_table.forward(pos);  // (B, 1, C)
        for (std::size_t l = 0; l < blocks.size(); ++l) x = blocks[l]->forward_cached(x, caches[l]);   // (B, 1, C)
        const Tensor<Scalar> logits = lm_head.forward(final_norm(x));                            // (B, 1, V)
        return reshape(logits, {tokens.size(0), config.vocab_size});                                 // (B, V)
    }

    /// Appends max_new_tokens sampled tokens to every row of idx (B, T0); the context fed to the model
    /// is cropped to the last block_size tokens. `on_token(row, token)` (optional) sees each new token
    /// as soon as it is drawn, for streaming output. Runs without recording a graph.
    IndexTensor generate(IndexTensor idx, std::int64_t max_new_tokens, Generator& gen,
                         const SamplingOptions& options = {},
                         const std::function<void(std::int64_t, std::int64_t)>& on_token = {}) const {
        BABYGPT_CHECK(idx.dim() == 2 && idx.size(0) >= 1 && idx.size(1) >= 1,
                      "GPT::generate: idx must be (B, T) with B >= 1 and T >= 1, got ", to_string(idx.shape()));
        BABYGPT_CHECK(options.temperature > 0.0, "GPT::generate: temperature must be positive, got ",
                      options.temperature);
        BABYGPT_CHECK(options.top_k >= 0, "GPT::generate: top_k must be >= 0, got ", options.top_k);
        NoGradGuard no_grad;
        const std::int64_t B = idx.size(0), V = config.vocab_size;
        for (std::int64_t i = 0; i < idx.numel(); ++i)
            BABYGPT_CHECK(idx.data()[i] >= 0 && idx.data()[i] < V, "GPT::generate: token id ", idx.data()[i],
                          " is out of range for vocab_size ", V);
        std::vector<std::vector<std::int64_t>> rows(static_cast<std::size_t>(B));
        for (std::int64_t b = 0; b < B; ++b)
            rows[b].assign(idx.data() + b * idx.size(1), idx.data() + (b + 1) * idx.size(1));
        std::vector<double> probs(static_cast<std::size_t>(V));  // scratch for sample_token()
        // While the context fits in block_size, a KV cache computes only the newest position; a prompt
        // longer than that never fits. Dropout in training mode needs the full forward, which applies it.
        std::optional<KVCacheDecoder<Scalar>> cache;
        if ((!this->is_training() || config.dropout == 0.0) && idx.size(1) <= config.block_size && max_new_tokens > 0)
            cache.emplace(*this, B);
        std::vector<std::int64_t> next(static_cast<std::size_t>(B));  // the cache's input: one token per row
        typename Tensor<Scalar>::Matrix last_logits;  // (B, V)
        for (std::int64_t step = 0; step < max_new_tokens; ++step) {
            const auto total = static_cast<std::int64_t>(rows[0].size());
            if (cache && total <= config.block_size) {
                while (cache->length() < total) {  // the prompt first, then one new token per step
                    for (std::int64_t b = 0; b < B; ++b) next[b] = rows[b][cache->length()];
                    last_logits = cache->step(next).matrix();  // (B, V)
                }
            } else {
                const std::int64_t len = std::min<std::int64_t>(total, config.block_size);
                IndexTensor context = IndexTensor::empty({B, len});
                for (std::int64_t b = 0; b < B; ++b)
                    std::copy(rows[b].end() - len, rows[b].end(), context.data() + b * len);
                const Tensor<Scalar> logits = forward(context).logits;  // (B, len, V)
                last_logits.resize(B, V);
                for (std::int64_t b = 0; b < B; ++b)  // the logits of the last position
                    last_logits.row(b) = logits.matrix(B * len, V).row(b * len + len - 1);
            }
            for (std::int64_t b = 0; b < B; ++b) {
                const std::int64_t token = sample_token(last_logits.row(b).data(), V, options, gen, probs);
                rows[b].push_back(token);
                if (on_token) on_token(b, token);
            }
        }
        IndexTensor out = IndexTensor::empty({B, static_cast<std::int64_t>(rows[0].size())});
        for (std::int64_t b = 0; b < B; ++b) std::copy(rows[b].begin(), rows[b].end(), out.data() + b * out.size(1));
        return out;
    }

    /// The generator behind dropout masks (its state belongs in a checkpoint for exact resumes).
    Generator& dropout_generator() { return dropout_gen_; }

    /// Whether a pass with a graph keeps each block's activations for backward (false, the default) or
    /// only the block's input, running the block again during backward (activation_checkpoint.hpp):
    /// the same gradients, for about a third more compute per training step and a fraction of the memory.
    bool activation_checkpointing = false;

    const GPTConfig config;
    nn::Embedding<Scalar> token_embedding_table;
    nn::Embedding<Scalar> postion_embedding_table;  // sic: the reference's name, kept for state_dict parity
    std::vector<std::unique_ptr<nn::Block<Scalar>>> blocks;
    std::unique_ptr<nn::LayerNorm<Scalar>> ln_final;  // null unless config.norm is pre
    nn::Linear<Scalar> lm_head;

private:
    mutable Generator dropout_gen_;  // the blocks' generator (see the public constructor); they keep a pointer to it

    /// The public constructor, once the dropout seed is drawn: an argument, so that it is drawn first.
    GPT(const GPTConfig& config, std::uint64_t dropout_seed, Generator& gen)
        : config(config),
          token_embedding_table(config.vocab_size, config.n_embed, gen),
          postion_embedding_table(config.block_size, config.n_embed, gen),
          lm_head(config.n_embed, config.vocab_size, true, gen),
          dropout_gen_(dropout_seed) {
        this->register_module("token_embedding_table", token_embedding_table);
        this->register_module("postion_embedding_table", postion_embedding_table);
        for (std::int64_t l = 0; l < config.n_layer; ++l) {
            blocks.push_back(std::make_unique<nn::Block<Scalar>>(config.n_embed, config.n_head, config.block_size,
                                                                 config.dropout, dropout_gen_, config.norm));
            this->register_module("blocks." + std::to_string(l), *blocks.back());
        }
        if (config.norm == NormPlacement::pre) {
            ln_final = std::make_unique<nn::LayerNorm<Scalar>>(config.n_embed);
            this->register_module("ln_final", *ln_final);
        }
        this->register_module("lm_head", lm_head);
    }

    /// The configuration, after validate() has accepted it (it throws otherwise): no layer is built
    /// from an invalid configuration.
    static const GPTConfig& validated(const GPTConfig& config) {
        config.validate();
        return config;
    }

    /// idx (B, T) -> the final LayerNorm's output (B, T, C): everything up to the lm_head.
    Tensor<Scalar> features(const IndexTensor& idx, std::vector<nn::BlockActivations<Scalar>>* seen = nullptr) const {
        BABYGPT_CHECK(idx.dim() == 2, "GPT::forward: idx must be (B, T), got ", to_string(idx.shape()));
        const std::int64_t T = idx.size(1);
        BABYGPT_CHECK(T >= 1 && T <= config.block_size, "GPT::forward: sequence length ", T,
                      " must be between 1 and block_size = ", config.block_size);
        const IndexTensor pos = IndexTensor::arange(T);                                         // (T)
        Tensor<Scalar> x = token_embedding_table.forward(idx) + postion_embedding_table.forward(pos);  // (B, T, C)
        for (std::size_t l = 0; l < blocks.size(); ++l) {                                        // (B, T, C)
            const nn::Block<Scalar>& block = *blocks[l];
            if (seen)
                x = block.forward_observed(x, (*seen)[l]);
            else if (activation_checkpointing)  // the same block; backward runs it again (see the member)
                x = activation_checkpoint(x, block.parameters(), &dropout_gen_,
                                          [&block](const Tensor<Scalar>& h) { return block.forward(h); });
            else
                x = block.forward(x);
        }
        return final_norm(x);                                                                      // (B, T, C)
    }

    /// (..., C) -> (..., C): ln_final, or nothing when the model has none.
    Tensor<Scalar> final_norm(const Tensor<Scalar>& x) const { return ln_final ? ln_final->forward(x) : x; }

};

}  // namespace babygpt
