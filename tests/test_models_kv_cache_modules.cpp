// Tests for the modules' cached forward passes (generation one position at a time):
// Block::forward_cached step by step against Block::forward on the whole sequence, and KVCacheDecoder
// (GPT::forward_cached) against GPT::forward at every position, for one and several heads and rows and
// for every LayerNorm placement;
// the errors of a wrong input, a full cache and a position that does not follow the cache.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/models/kv_cache.hpp"
#include "babygpt/nn/block.hpp"

using namespace babygpt;

namespace {

/// Position p of every row of x (B, T, C), as (B, 1, C).
Tensord kv_modules_position(const Tensord& x, std::int64_t p) {
    const std::int64_t B = x.size(0), C = x.size(2);
    Tensord out = Tensord::empty({B, 1, C});
    for (std::int64_t b = 0; b < B; ++b)
        for (std::int64_t c = 0; c < C; ++c) out(b, 0, c) = x(b, p, c);
    return out;
}

GPTConfig kv_modules_config(std::int64_t n_head, NormPlacement norm = NormPlacement::pre) {
    GPTConfig c;
    c.norm = norm;
    c.vocab_size = 11;
    c.block_size = 6;
    c.n_embed = 8;
    c.n_head = n_head;
    c.n_layer = 2;
    c.dropout = 0.1;  // evaluated in eval mode: no dropout in either pass
    return c;
}

}  // namespace

TEST_CASE("Block::forward_cached, one position after the other, is Block::forward on the whole sequence") {
    for (const std::int64_t n_head : {1, 4}) {
        for (const std::int64_t B : {1, 3}) {
            for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post, NormPlacement::none}) {
                CAPTURE(n_head);
                CAPTURE(B);
                const std::string placement = norm_placement_name(norm);
                CAPTURE(placement);
                const std::int64_t block_size = 6, C = 8;
                Generator gen(static_cast<std::uint64_t>(50 + 10 * n_head + B));
                nn::Block<double> block(C, n_head, block_size, 0.0, gen, norm);
                const Tensord x = Tensord::randn({B, block_size, C}, gen);
                const Tensord full = block.forward(x);  // (B, T, C): causal, so position p sees 0..p only
                nn::AttentionCache<double> cache(B, block_size, C);
                for (std::int64_t p = 0; p < block_size; ++p) {
                    CAPTURE(p);
                    const Tensord y = block.forward_cached(kv_modules_position(x, p), cache);
                    REQUIRE(y.shape() == Shape{B, 1, C});
                    CHECK(cache.length == p + 1);
                    for (std::int64_t b = 0; b < B; ++b)
                        for (std::int64_t c = 0; c < C; ++c) CHECK(std::abs(y(b, 0, c) - full(b, p, c)) < 1e-12);
                }
                CHECK_THROWS_AS(block.forward_cached(kv_modules_position(x, 0), cache), Error);  // full
            }
        }
    }
}

TEST_CASE("KVCacheDecoder: the logits at every position are GPT::forward's there") {
    for (const std::int64_t n_head : {1, 4}) {
        for (const std::int64_t B : {1, 3}) {
            for (const NormPlacement norm : {NormPlacement::pre, NormPlacement::post, NormPlacement::none}) {
                CAPTURE(n_head);
                CAPTURE(B);
                const std::string placement = norm_placement_name(norm);
                CAPTURE(placement);
                Generator gen(static_cast<std::uint64_t>(70 + 10 * n_head + B));
                GPT<double> model(kv_modules_config(n_head, norm), gen);
                model.eval();
                const std::int64_t T = model.config.block_size, V = model.config.vocab_size;
                IndexTensor idx = IndexTensor::empty({B, T});
                for (std::int64_t i = 0; i < idx.numel(); ++i) idx.data()[i] = gen.randint(V);
                const Tensord full = [&] {
                    NoGradGuard no_grad;
                    return model.forward(idx).logits;  // (B, T, V)
                }();
                KVCacheDecoder<double> decoder(model, B);
                for (std::int64_t p = 0; p < T; ++p) {
                    CAPTURE(p);
                    std::vector<std::int64_t> tokens;
                    for (std::int64_t b = 0; b < B; ++b) tokens.push_back(idx(b, p));
                    const Tensord logits = decoder.step(tokens);
                    REQUIRE(logits.shape() == Shape{B, V});
                    CHECK(decoder.length() == p + 1);
                    for (std::int64_t b = 0; b < B; ++b)
                        for (std::int64_t v = 0; v < V; ++v) CHECK(std::abs(logits(b, v) - full(b, p, v)) < 1e-12);
                }
            }
        }
    }
}

TEST_CASE("forward_cached: a wrong input shape, a missing cache or a position out of turn is an error") {
    Generator gen(90);
    GPT<double> model(kv_modules_config(2), gen);
    model.eval();
    const GPTConfig& c = model.config;
    std::vector<nn::AttentionCache<double>> caches;
    for (std::int64_t l = 0; l < c.n_layer; ++l) caches.emplace_back(2, c.block_size, c.n_embed);
    const IndexTensor tokens = IndexTensor::from_data({2, 1}, {3, 4});
    CHECK_THROWS_AS(model.forward_cached(tokens, 1, caches), Error);  // position 0 comes first
    CHECK_THROWS_AS(model.forward_cached(IndexTensor::from_data({1, 2}, {3, 4}), 0, caches), Error);  // (1, 2)
    std::vector<nn::AttentionCache<double>> too_few(caches.begin(), caches.begin() + 1);
    CHECK_THROWS_AS(model.forward_cached(tokens, 0, too_few), Error);
    CHECK(model.forward_cached(tokens, 0, caches).shape() == Shape{2, c.vocab_size});
    CHECK(caches[0].length == 1);
    CHECK(caches[1].length == 1);
    CHECK_THROWS_AS(model.forward_cached(tokens, 0, caches), Error);  // position 0 is cached already
    // Three rows into a cache of two.
    const Tensord x = Tensord::randn({3, 1, c.n_embed}, gen);
    CHECK_THROWS_AS(model.blocks[0]->sa.forward_cached(x, caches[0]), Error);
    CHECK(caches[0].length == 1);  // an error stores nothing
}
