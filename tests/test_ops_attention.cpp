// Tests for ops/attention.hpp: causal_self_attention over a packed (B, T, 3C) QKV tensor: values
// against PyTorch, equality with the per-head composition of matmul / causal_mask / softmax,
// causality, gradchecks (several heads, with and without dropout) and argument errors.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/ops/attention.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

// The op under ReferenceMode: the reference's Head formula for every head, on slices of the packed
// tensor, concatenated (detail::causal_self_attention_reference). Dropout 0: the generator is not used.
Tensord reference_attention(const Tensord& qkv, std::int64_t n_head) {
    Generator unused(0);
    ReferenceModeGuard reference;
    return causal_self_attention(qkv, n_head, 0.0, true, unused);
}

}  // namespace

TEST_CASE("ops::causal_self_attention: values equal PyTorch's per-head attention") {
    // qkv[i] = 0.1 * ((7 i) % 11) - 0.5, shape (1, 3, 12): C = 4, two heads of size 2.
    std::vector<double> values;
    for (int i = 0; i < 36; ++i) values.push_back(0.1 * ((i * 7) % 11) - 0.5);
    const Tensord qkv = Tensord::from_data({1, 3, 12}, values);
    Generator gen(0);
    // torch.cat([softmax((q_h @ k_h^T / sqrt(2)).masked_fill(tril == 0, -inf), -1) @ v_h for h in 0, 1], -1)
    const std::vector<double> expected{-0.4, 0.30000000000000004, -0.09999999999999998, -0.5,
                                       -0.07716884266242216, 0.11552505294995558, -0.2830700496424422, -0.179627413125726,
                                       -0.029221228450181113, -0.10768281080469468, -0.15339978848095753, -0.15813841113554686};
    for (const bool reference_mode : {false, true}) {  // the fused kernels, then the plain composition
        CAPTURE(reference_mode);
        std::optional<ReferenceModeGuard> reference;
        if (reference_mode) reference.emplace();
        const Tensord out = causal_self_attention(qkv, 2, 0.0, false, gen);
        REQUIRE(out.shape() == Shape{1, 3, 4});
        for (std::size_t i = 0; i < expected.size(); ++i)
            CHECK(out.data()[i] == doctest::Approx(expected[i]).epsilon(1e-12));
    }
}

TEST_CASE("ops::causal_self_attention: equals the per-head composition, values and gradients") {
    Generator gen(1);
    for (std::int64_t n_head : {1, 2, 3}) {
        CAPTURE(n_head);
        Tensord qkv = Tensord::randn({2, 5, 3 * 6}, gen).requires_grad_();
        const Tensord fused = causal_self_attention(qkv, n_head, 0.0, true, gen);
        const Tensord plain = reference_attention(qkv, n_head);
        CHECK(max_abs_diff(fused, plain) < 1e-12);

        const Tensord w = Tensord::randn({2, 5, 6}, gen);
        sum(fused * w).backward();
        const Tensord g_fused = qkv.grad().clone();
        qkv.zero_grad();
        sum(plain * w).backward();
        CHECK(max_abs_diff(g_fused, qkv.grad()) < 1e-12);
    }
}

TEST_CASE("ops::causal_self_attention: T = 1 returns the values; outputs ignore later positions") {
    Generator gen(2);
    const Tensord one = Tensord::randn({2, 1, 12}, gen);
    const Tensord out = causal_self_attention(one, 2, 0.0, false, gen);
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t c = 0; c < 4; ++c) CHECK(out(b, 0, c) == doctest::Approx(one(b, 0, 8 + c)).epsilon(1e-14));

    const Tensord qkv = Tensord::randn({1, 4, 12}, gen);
    const Tensord y = causal_self_attention(qkv, 2, 0.0, false, gen);
    Tensord later = qkv.clone();
    for (std::int64_t c = 0; c < 12; ++c) later(0, 2, c) -= 0.7;  // q, k and v of position 2
    const Tensord y2 = causal_self_attention(later, 2, 0.0, false, gen);
    for (std::int64_t t = 0; t < 2; ++t)
        for (std::int64_t c = 0; c < 4; ++c) CHECK(y2(0, t, c) == y(0, t, c));
    CHECK(std::abs(y2(0, 2, 0) - y(0, 2, 0)) + std::abs(y2(0, 3, 1) - y(0, 3, 1)) > 1e-4);
}

TEST_CASE("ops::causal_self_attention: gradcheck, several heads, dropout 0") {
    Generator gen(3);
    Tensord qkv = Tensord::randn({2, 3, 3 * 6}, gen).requires_grad_();
    for (std::int64_t n_head : {1, 3}) {
        CAPTURE(n_head);
        require_gradcheck(
            [&](const std::vector<Tensord>& in) { return causal_self_attention(in[0], n_head, 0.0, true, gen); },
            {qkv});
    }
}

TEST_CASE("ops::causal_self_attention: gradcheck with dropout in training, the generator re-seeded per call") {
    Generator gen(4);
    Tensord qkv = Tensord::randn({2, 4, 3 * 4}, gen).requires_grad_();
    auto f = [&](const std::vector<Tensord>& in) {
        gen.seed(31);
        return causal_self_attention(in[0], 2, 0.4, true, gen);
    };
    require_gradcheck(f, {qkv});
    // The mask is in effect: the result differs from attention without dropout.
    CHECK(max_abs_diff(f({qkv.detach()}), causal_self_attention(qkv.detach(), 2, 0.0, true, gen)) > 1e-3);
}

TEST_CASE("ops::causal_self_attention: dropout is off in eval mode and reproducible from the seed in training") {
    Generator gen(5);
    const Tensord qkv = Tensord::randn({2, 6, 24}, gen);
    const Tensord plain = causal_self_attention(qkv, 4, 0.0, true, gen);
    const std::string before = gen.state();
    const Tensord eval = causal_self_attention(qkv, 4, 0.5, false, gen);
    CHECK(gen.state() == before);  // no draws in eval mode
    CHECK(eval.to_vector() == plain.to_vector());

    Generator g1(6), g2(6);
    const Tensord a = causal_self_attention(qkv, 4, 0.5, true, g1);
    const Tensord b = causal_self_attention(qkv, 4, 0.5, true, g2);
    CHECK(a.to_vector() == b.to_vector());
    CHECK(max_abs_diff(a, plain) > 1e-3);
    const Tensord c = causal_self_attention(qkv, 4, 0.5, true, g1);  // generator moved on: a new mask
    CHECK(max_abs_diff(a, c) > 1e-6);
}

TEST_CASE("ops::causal_self_attention: long contexts (blocked GEMM path) equal the composition") {
    // T > 32 takes the GEMM path; T = 70 and 130 make several query blocks, the last one partial.
    Generator gen(7);
    for (std::int64_t Tn : {33, 64, 70, 130}) {
        CAPTURE(Tn);
        Tensord qkv = Tensord::randn({2, Tn, 3 * 8}, gen).requires_grad_();
        const Tensord w1 = Tensord::randn({2, Tn, 8}, gen), w2 = Tensord::randn({2, Tn, 8}, gen);
        const Tensord fused = causal_self_attention(qkv, 2, 0.0, true, gen);
        const Tensord plain = reference_attention(qkv, 2);
        CHECK(max_abs_diff(fused, plain) < 1e-12);
        // Two uses: the second backward adds to the gradient the first one assigned.
        sum(fused * w1 + causal_self_attention(qkv, 2, 0.0, true, gen) * w2).backward();
        const Tensord g_fused = qkv.grad().clone();
        qkv.zero_grad();
        sum(plain * w1 + reference_attention(qkv, 2) * w2).backward();
        CHECK(max_abs_diff(g_fused, qkv.grad()) < 1e-12);
    }
}

TEST_CASE("ops::causal_self_attention: gradcheck of the blocked GEMM path, with and without dropout") {
    Generator gen(8);
    Tensord qkv = Tensord::randn({1, 70, 3 * 4}, gen).requires_grad_();
    require_gradcheck([&](const std::vector<Tensord>& in) { return causal_self_attention(in[0], 2, 0.0, true, gen); },
                      {qkv});
    auto dropped = [&](const std::vector<Tensord>& in) {
        gen.seed(32);
        return causal_self_attention(in[0], 2, 0.3, true, gen);
    };
    require_gradcheck(dropped, {qkv});
    CHECK(max_abs_diff(dropped({qkv.detach()}), causal_self_attention(qkv.detach(), 2, 0.0, true, gen)) > 1e-3);
}

TEST_CASE("ops::causal_self_attention: argument errors") {
    Generator gen(7);
    CHECK_THROWS_AS(causal_self_attention(Tensord::zeros({2, 3, 10}), 2, 0.0, false, gen), Error);  // not 3C
    CHECK_THROWS_AS(causal_self_attention(Tensord::zeros({3, 12}), 2, 0.0, false, gen), Error);     // not 3-d
    CHECK_THROWS_AS(causal_self_attention(Tensord::zeros({1, 3, 12}), 3, 0.0, false, gen), Error);  // 4 % 3
    CHECK_THROWS_AS(causal_self_attention(Tensord::zeros({1, 3, 12}), 0, 0.0, false, gen), Error);
    CHECK_THROWS_AS(causal_self_attention(Tensord::zeros({1, 3, 12}), 2, 1.0, true, gen), Error);
    CHECK_THROWS_AS(causal_self_attention(Tensord::zeros({1, 3, 12}), 2, -0.1, true, gen), Error);
    try {
        causal_self_attention(Tensord::zeros({1, 3, 15}), 2, 0.0, false, gen);
        FAIL("expected an error");
    } catch (const Error& e) {
        const std::string message = e.what();
        CHECK(message.find("C = 5") != std::string::npos);
        CHECK(message.find("n_head = 2") != std::string::npos);
    }
}
