// Tests for nn/attention.hpp: Head (the plain formulation) and MultiHeadAttention (fused QKV GEMM and
// attention kernel): state_dict names, tril buffers, causality, equality of the fused module with
// the reference composition concat(heads) -> proj, and gradchecks with and without dropout.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/attention.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

// The reference's MultiHeadAttention.forward: torch.cat([h(x) for h in heads], -1), then proj
// (dropout 0, so its Dropout is the identity).
Tensord composed(const nn::MultiHeadAttention<double>& mha, const Tensord& x) {
    std::vector<Tensord> outs;
    for (const auto& h : mha.heads) outs.push_back(h->forward(x));
    return mha.proj->forward(concat(outs));
}

}  // namespace

TEST_CASE("nn::Head: bias-free key/query/value (hs, C) and a lower-triangular tril buffer") {
    Generator gen(1);
    nn::Head<float> head(8, 4, 5, 0.0, gen);
    std::vector<std::string> names;
    for (const auto& [name, p] : head.named_parameters()) {
        names.push_back(name);
        CHECK(p.shape() == Shape{4, 8});
    }
    CHECK(names == std::vector<std::string>{"key.weight", "query.weight", "value.weight"});
    const auto buffers = head.named_buffers();
    REQUIRE(buffers.size() == 1);
    CHECK(buffers[0].first == "tril");
    const Tensorf tril = buffers[0].second;
    REQUIRE(tril.shape() == Shape{5, 5});
    for (std::int64_t i = 0; i < 5; ++i)
        for (std::int64_t j = 0; j < 5; ++j) CHECK(tril(i, j) == (j <= i ? 1.0f : 0.0f));
    CHECK_FALSE(tril.requires_grad());
}

TEST_CASE("nn::Head: forward matches a hand computation of softmax(q k^T / sqrt(hs), causal) v") {
    Generator gen(2);
    const std::int64_t C = 4, hs = 2, Tn = 3;
    nn::Head<double> head(C, hs, 6, 0.0, gen);
    const Tensord x = Tensord::randn({2, Tn, C}, gen);
    const Tensord out = head.forward(x);
    REQUIRE(out.shape() == Shape{2, Tn, hs});
    const Tensord k = head.key.forward(x), q = head.query.forward(x), v = head.value.forward(x);
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t i = 0; i < Tn; ++i) {
            std::vector<double> w(static_cast<std::size_t>(i + 1));
            double total = 0;
            for (std::int64_t j = 0; j <= i; ++j) {
                double s = 0;
                for (std::int64_t c = 0; c < hs; ++c) s += q(b, i, c) * k(b, j, c);
                w[static_cast<std::size_t>(j)] = std::exp(s / std::sqrt(static_cast<double>(hs)));
                total += w[static_cast<std::size_t>(j)];
            }
            for (std::int64_t c = 0; c < hs; ++c) {
                double expected = 0;
                for (std::int64_t j = 0; j <= i; ++j) expected += w[static_cast<std::size_t>(j)] / total * v(b, j, c);
                CHECK(out(b, i, c) == doctest::Approx(expected).epsilon(1e-12));
            }
        }
}

TEST_CASE("nn::Head: gradcheck with T < block_size") {
    Generator gen(3);
    nn::Head<double> head(6, 3, 5, 0.0, gen);
    Tensord x = Tensord::randn({2, 3, 6}, gen).requires_grad_();
    require_gradcheck([&](const std::vector<Tensord>&) { return head.forward(x); }, with_parameters(x, head));
}

TEST_CASE("nn::MultiHeadAttention: names are heads.{h}.key/query/value, then proj; tril buffers per head") {
    Generator gen(4);
    nn::MultiHeadAttention<float> mha(8, 2, 5, 0.0, gen);
    std::vector<std::string> names;
    std::vector<Shape> shapes;
    for (const auto& [name, p] : mha.named_parameters()) {
        names.push_back(name);
        shapes.push_back(p.shape());
    }
    CHECK(names == std::vector<std::string>{"heads.0.key.weight", "heads.0.query.weight", "heads.0.value.weight",
                                            "heads.1.key.weight", "heads.1.query.weight", "heads.1.value.weight",
                                            "proj.weight", "proj.bias"});
    CHECK(shapes == std::vector<Shape>{{4, 8}, {4, 8}, {4, 8}, {4, 8}, {4, 8}, {4, 8}, {8, 8}, {8}});
    std::vector<std::string> buffer_names;
    for (const auto& [name, b] : mha.named_buffers()) {
        buffer_names.push_back(name);
        CHECK(b.shape() == Shape{5, 5});
    }
    CHECK(buffer_names == std::vector<std::string>{"heads.0.tril", "heads.1.tril"});
    CHECK(mha.heads.size() == 2);
    CHECK(mha.n_head == 2);
}

TEST_CASE("nn::MultiHeadAttention: the fused forward equals concat(Head::forward) -> proj, values and gradients") {
    Generator gen(5);
    const std::int64_t C = 12, nh = 3, block = 6;
    nn::MultiHeadAttention<double> mha(C, nh, block, 0.0, gen);
    for (std::int64_t Tn : {1, 4, 6}) {  // shorter than block_size, and the full block
        CAPTURE(Tn);
        Tensord x = Tensord::randn({2, Tn, C}, gen).requires_grad_();
        const Tensord fused = mha.forward(x);
        const Tensord plain = composed(mha, x);
        REQUIRE(fused.shape() == Shape{2, Tn, C});
        CHECK(max_abs_diff(fused, plain) < 1e-12);

        // Gradients of the same weighted sum through both paths.
        const Tensord w = Tensord::randn({2, Tn, C}, gen);
        const std::vector<Tensord> inputs = with_parameters(x, mha);
        std::vector<Tensord> fused_grads, plain_grads;
        for (const Tensord& t : inputs) t.zero_grad();
        sum(mha.forward(x) * w).backward();
        for (const Tensord& t : inputs) fused_grads.push_back(t.grad().clone());
        for (const Tensord& t : inputs) t.zero_grad();
        sum(composed(mha, x) * w).backward();
        for (const Tensord& t : inputs) plain_grads.push_back(t.grad().clone());
        for (std::size_t i = 0; i < inputs.size(); ++i) {
            CAPTURE(i);
            CHECK(max_abs_diff(fused_grads[i], plain_grads[i]) < 1e-12);
        }
        for (const Tensord& t : inputs) t.zero_grad();
    }
}

TEST_CASE("nn::MultiHeadAttention: causal: an output depends on no later position") {
    Generator gen(6);
    nn::MultiHeadAttention<double> mha(8, 4, 6, 0.0, gen);
    const Tensord x = Tensord::randn({1, 5, 8}, gen);
    const Tensord y = mha.forward(x);
    Tensord x2 = x.clone();
    for (std::int64_t c = 0; c < 8; ++c) x2(0, 3, c) += 1.0;  // change position 3
    const Tensord y2 = mha.forward(x2);
    for (std::int64_t t = 0; t < 3; ++t)
        for (std::int64_t c = 0; c < 8; ++c) CHECK(y2(0, t, c) == doctest::Approx(y(0, t, c)).epsilon(1e-14));
    double changed = 0;
    for (std::int64_t c = 0; c < 8; ++c) changed += std::abs(y2(0, 3, c) - y(0, 3, c)) + std::abs(y2(0, 4, c) - y(0, 4, c));
    CHECK(changed > 1e-3);
}

TEST_CASE("nn::MultiHeadAttention: gradcheck, dropout 0, T < block_size, several heads") {
    Generator gen(7);
    nn::MultiHeadAttention<double> mha(6, 3, 5, 0.0, gen);
    Tensord x = Tensord::randn({2, 3, 6}, gen).requires_grad_();
    require_gradcheck([&](const std::vector<Tensord>&) { return mha.forward(x); }, with_parameters(x, mha));
}

TEST_CASE("nn::MultiHeadAttention: gradcheck with dropout in training, the generator re-seeded per call") {
    Generator gen(8);
    nn::MultiHeadAttention<double> mha(6, 2, 5, 0.3, gen);
    CHECK(mha.is_training());
    Tensord x = Tensord::randn({2, 4, 6}, gen).requires_grad_();
    auto f = [&](const std::vector<Tensord>&) {
        gen.seed(99);  // the same attention and output masks on every evaluation
        return mha.forward(x);
    };
    require_gradcheck(f, with_parameters(x, mha));

    // Dropout is really active: the output differs from evaluation mode.
    const Tensord train_out = f({});
    mha.eval();
    const Tensord eval_out = mha.forward(x);
    CHECK(max_abs_diff(train_out, eval_out) > 1e-3);
}

TEST_CASE("nn::MultiHeadAttention: dropout is the identity in eval mode") {
    Generator g1(9), g2(9);
    nn::MultiHeadAttention<double> with_dropout(8, 2, 4, 0.5, g1);
    nn::MultiHeadAttention<double> without(8, 2, 4, 0.0, g2);  // same seed: same weights
    with_dropout.eval();
    CHECK_FALSE(with_dropout.heads[0]->is_training());
    CHECK_FALSE(with_dropout.heads[1]->dropout.is_training());
    CHECK_FALSE(with_dropout.proj->is_training());
    CHECK_FALSE(with_dropout.dropout->is_training());
    Generator data(10);
    const Tensord x = Tensord::randn({2, 4, 8}, data);
    const Tensord a = with_dropout.forward(x);
    const Tensord b = with_dropout.forward(x);
    CHECK(a.to_vector() == b.to_vector());
    CHECK(max_abs_diff(a, without.forward(x)) < 1e-12);

    with_dropout.train();
    CHECK(with_dropout.heads[1]->dropout.is_training());
    CHECK(max_abs_diff(with_dropout.forward(x), a) > 1e-6);
}

TEST_CASE("nn::MultiHeadAttention: n_embed not divisible by n_head throws") {
    Generator gen(11);
    CHECK_THROWS_AS(nn::MultiHeadAttention<float>(10, 4, 8, 0.0, gen), Error);
    CHECK_THROWS_AS(nn::MultiHeadAttention<float>(8, 0, 8, 0.0, gen), Error);
    try {
        nn::MultiHeadAttention<float>(10, 4, 8, 0.0, gen);
    } catch (const Error& e) {
        const std::string message = e.what();
        CHECK(message.find("10") != std::string::npos);
        CHECK(message.find('4') != std::string::npos);
    }
}

TEST_CASE("nn::MultiHeadAttention::qkv_weight: [queries; keys; values] of every head, (3C, C); gradients reach them") {
    Generator gen(12);
    const std::int64_t C = 6, nh = 3, hs = C / nh;
    nn::MultiHeadAttention<double> mha(C, nh, 4, 0.0, gen);
    const Tensord w = mha.qkv_weight();
    REQUIRE(w.shape() == Shape{3 * C, C});
    for (std::int64_t h = 0; h < nh; ++h)
        for (std::int64_t r = 0; r < hs; ++r)
            for (std::int64_t c = 0; c < C; ++c) {
                CHECK(w(h * hs + r, c) == mha.heads[h]->query.weight(r, c));
                CHECK(w(C + h * hs + r, c) == mha.heads[h]->key.weight(r, c));
                CHECK(w(2 * C + h * hs + r, c) == mha.heads[h]->value.weight(r, c));
            }
    // A copy: the weights are not shared.
    CHECK(w.data() != mha.heads[0]->query.weight.data());

    // Recorded by autograd: d(sum(w * g))/d(head weight) is g's block of that head.
    const Tensord g = Tensord::randn({3 * C, C}, gen);
    sum(mha.qkv_weight() * g).backward();
    for (std::int64_t h = 0; h < nh; ++h)
        for (std::int64_t r = 0; r < hs; ++r)
            for (std::int64_t c = 0; c < C; ++c) {
                CHECK(mha.heads[h]->query.weight.grad()(r, c) == g(h * hs + r, c));
                CHECK(mha.heads[h]->key.weight.grad()(r, c) == g(C + h * hs + r, c));
                CHECK(mha.heads[h]->value.weight.grad()(r, c) == g(2 * C + h * hs + r, c));
            }
    CHECK_FALSE(mha.proj->weight.grad().defined());
}
