// Tests for ops/linear_cross_entropy.hpp: cross_entropy(linear(x, W, b), t) as one op that never keeps
// the logits. It must agree with the two-op composition in value and in every gradient, whatever the
// number of row blocks, with or without bias, with or without a gradient, and for any thread count.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/linear.hpp"
#include "babygpt/ops/linear_cross_entropy.hpp"
#include "babygpt/ops/loss.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/threads.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

/// Targets 0, 7, 14, ... modulo V, shaped like x without its last dimension.
IndexTensor spread_targets(const Shape& shape, std::int64_t V) {
    std::int64_t n = 1;
    for (const std::int64_t d : shape) n *= d;
    std::vector<std::int64_t> t(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) t[static_cast<std::size_t>(i)] = (7 * i + 3) % V;
    return IndexTensor::from_data(shape, t);
}

/// Loss and the gradients of x, W and b from the fused op and from the composition, in double.
void check_matches_composition(const Shape& x_shape, std::int64_t V, bool with_bias) {
    CAPTURE(to_string(x_shape));
    CAPTURE(V);
    const std::int64_t C = x_shape.back();
    Shape target_shape(x_shape.begin(), x_shape.end() - 1);
    const IndexTensor t = spread_targets(target_shape, V);
    const Tensord x = param(x_shape, 1), W = param({V, C}, 2, 0.5);
    const Tensord b = with_bias ? param({V}, 3) : Tensord();

    const Tensord fused = linear_cross_entropy(x, W, b, t);
    fused.backward();
    const Tensord fx = x.grad(), fW = W.grad();
    const Tensord fb = with_bias ? b.grad() : Tensord();
    x.zero_grad();
    W.zero_grad();
    if (with_bias) b.zero_grad();

    const Tensord plain = cross_entropy(linear(x, W, b), t);
    plain.backward();
    CHECK(fused.shape() == Shape{});
    CHECK(fused.item() == doctest::Approx(plain.item()).epsilon(1e-12));
    CHECK(max_abs_diff(fx, x.grad()) < 1e-14);
    CHECK(max_abs_diff(fW, W.grad()) < 1e-14);
    if (with_bias) CHECK(max_abs_diff(fb, b.grad()) < 1e-14);
}

}  // namespace

TEST_CASE("ops::linear_cross_entropy: equals cross_entropy(linear(...)) in value and gradients") {
    check_matches_composition({5, 3}, 4, true);
    check_matches_composition({2, 3, 4}, 6, true);
    check_matches_composition({2, 3, 4}, 6, false);
    // Several row blocks, the last one partial: 262144 / (1500 * 8) = 21 -> at least 128 rows, so 280
    // rows are blocks of 128, 128 and 24.
    check_matches_composition({7, 40, 5}, 1500, true);
    check_matches_composition({280, 5}, 1500, false);
}

TEST_CASE("ops::linear_cross_entropy: widths of 1, 2 and 4 SIMD packets (the narrow kernels) equal the composition") {
    const std::int64_t P = kernels::kPacketSize<double>;
    // Row counts and vocabularies that leave partial register tiles; 150 rows are two blocks.
    check_matches_composition({3, 50, P}, 1500, true);
    check_matches_composition({21, 2 * P}, 37, true);
    check_matches_composition({150, 4 * P}, 300, false);
    // A vocabulary wide enough for sub-blocks within the blocks: 786432 / (6000 * 8) -> 16 rows, so the
    // 150 rows are a block of 128 (eight sub-blocks) and one of 22 (16 + 6).
    CHECK(detail::cross_entropy_sub_block_rows(6000, sizeof(double)) == 16);
    check_matches_composition({150, P}, 6000, true);
    check_matches_composition({150, P}, 6000, false);
    CHECK(kernels::narrow_product_fits<double>(P) == (P > 1));
}

TEST_CASE("ops::linear_cross_entropy: gradcheck, one block and several") {
    const IndexTensor t = IndexTensor::from_data({2, 3}, {0, 3, 4, 1, 2, 0});
    check_gradcheck([t](const std::vector<Tensord>& in) { return linear_cross_entropy(in[0], in[1], in[2], t); },
                    {param({2, 3, 4}, 4), param({5, 4}, 5), param({5}, 6)});
    check_gradcheck([t](const std::vector<Tensord>& in) { return linear_cross_entropy(in[0], in[1], Tensord(), t); },
                    {param({2, 3, 4}, 7), param({5, 4}, 8)});
    // 140 rows with V = 300: blocks of 128 and 12 rows.
    const IndexTensor t140 = spread_targets({140}, 300);
    check_gradcheck([t140](const std::vector<Tensord>& in) { return linear_cross_entropy(in[0], in[1], in[2], t140); },
                    {param({140, 2}, 9), param({300, 2}, 10), param({300}, 11)});
    // A width of one SIMD packet: the narrow kernels, with partial tiles of rows and of classes.
    const std::int64_t P = kernels::kPacketSize<double>;
    const IndexTensor t13 = spread_targets({13}, 45);
    check_gradcheck([t13](const std::vector<Tensord>& in) { return linear_cross_entropy(in[0], in[1], in[2], t13); },
                    {param({13, P}, 18), param({45, P}, 19), param({45}, 20)});
}

TEST_CASE("ops::linear_cross_entropy: accumulates into existing gradients and scales by the upstream gradient") {
    const IndexTensor t = IndexTensor::from_data({4}, {1, 0, 2, 2});
    // x feeds the loss twice and W is used again outside it: every gradient is a sum of contributions.
    check_gradcheck(
        [t](const std::vector<Tensord>& in) {
            return linear_cross_entropy(in[0], in[1], in[2], t) * 3.0 + linear_cross_entropy(in[0] * in[0], in[1],
                                                                                              Tensord(), t) +
                   sum(in[1] * in[1]);
        },
        {param({4, 3}, 12), param({3, 3}, 13), param({3}, 14)});
    // The same with a width of one SIMD packet: the narrow path, whose gradients forward computes.
    const std::int64_t P = kernels::kPacketSize<double>;
    check_gradcheck(
        [t](const std::vector<Tensord>& in) {
            return linear_cross_entropy(in[0], in[1], in[2], t) * 3.0 + linear_cross_entropy(in[0] * in[0], in[1],
                                                                                              Tensord(), t) +
                   sum(in[1] * in[1]);
        },
        {param({4, P}, 15), param({3, P}, 16), param({3}, 17)});
}

TEST_CASE("ops::linear_cross_entropy: without a gradient only the loss, and no graph") {
    const Tensord x = param({6, 4}, 15), W = param({9, 4}, 16), b = param({9}, 17);
    const IndexTensor t = spread_targets({6}, 9);
    const double with_grad = linear_cross_entropy(x, W, b, t).item();
    NoGradGuard no_grad;
    const Tensord loss = linear_cross_entropy(x, W, b, t);
    CHECK_FALSE(loss.requires_grad());
    CHECK(loss.item() == doctest::Approx(with_grad).epsilon(1e-14));
    CHECK(loss.item() == doctest::Approx(cross_entropy(linear(x, W, b), t).item()).epsilon(1e-12));
}

TEST_CASE("ops::linear_cross_entropy: without a gradient, the narrow kernels' log-sum-exp equals the loss with one") {
    // The narrow widths gather each row's log-sum-exp tile by tile (never writing the logits); row counts
    // and vocabularies leave partial tiles of both, and 300 rows are several blocks.
    const std::int64_t P = kernels::kPacketSize<double>;
    struct Case {
        std::int64_t rows, C, V;
        bool with_bias;
    };
    for (const Case c : {Case{13, P, 45, true}, Case{21, 2 * P, 37, false}, Case{300, 4 * P, 1500, true},
                         Case{8, 2 * P, 2 * P, true}, Case{3, P, 1, true}}) {
        CAPTURE(c.rows);
        CAPTURE(c.C);
        CAPTURE(c.V);
        const Tensord x = param({c.rows, c.C}, 21, 2.0), W = param({c.V, c.C}, 22);
        const Tensord b = c.with_bias ? param({c.V}, 23) : Tensord();
        const IndexTensor t = spread_targets({c.rows}, c.V);
        const double with_grad = linear_cross_entropy(x, W, b, t).item();
        NoGradGuard no_grad;
        CHECK(linear_cross_entropy(x, W, b, t).item() == doctest::Approx(with_grad).epsilon(1e-13));
    }
}

TEST_CASE("ops::linear_cross_entropy: without a gradient, float logits that grow along the vocabulary and large ones") {
    // Logits rising with the class index make every tile a new maximum (the running sums are rescaled
    // each time); a scale of 60 gives logits of several hundred, whose exp overflows a float unless the
    // maximum is subtracted first. Compared with the composition in double.
    const std::int64_t N = 256, C = 32, V = 6100;
    for (const double scale : {1.0, 60.0}) {
        CAPTURE(scale);
        Generator gen(24);
        const Tensorf x = Tensorf::randn({N, C}, gen) * static_cast<float>(scale / 8);
        Tensorf W = Tensorf::randn({V, C}, gen);
        for (std::int64_t v = 0; v < V; ++v) W.data()[v * C] += static_cast<float>(v) / static_cast<float>(V) * 4;
        const Tensorf b = Tensorf::randn({V}, gen);
        const IndexTensor t = spread_targets({N}, V);
        auto in_double = [](const Tensorf& f) {
            return Tensord::from_data(f.shape(), std::vector<double>(f.data(), f.data() + f.numel()));
        };
        const Tensord reference = cross_entropy(linear(in_double(x), in_double(W), in_double(b)), t);
        NoGradGuard no_grad;
        const float loss = linear_cross_entropy(x, W, b, t).item();
        CHECK(std::isfinite(loss));
        CHECK(loss == doctest::Approx(reference.item()).epsilon(1e-5));
    }
}

TEST_CASE("ops::linear_cross_entropy: repeatable bits for a thread count; one and two threads agree") {
    Generator gen(18);
    const Tensorf x = Tensorf::randn({300, 16}, gen).requires_grad_();
    const Tensorf W = Tensorf::randn({3000, 16}, gen).requires_grad_();
    const Tensorf b = Tensorf::randn({3000}, gen).requires_grad_();
    const IndexTensor t = spread_targets({300}, 3000);
    auto run = [&](int threads) {
        set_num_threads(threads);
        x.zero_grad();
        W.zero_grad();
        b.zero_grad();
        const Tensorf loss = linear_cross_entropy(x, W, b, t);
        loss.backward();
        return std::vector<Tensorf>{loss, x.grad(), W.grad(), b.grad()};
    };
    const std::vector<Tensorf> one = run(1), two = run(2), two_again = run(2);
    set_num_threads(1);
    // Width 16 takes the narrow path (with SIMD): fixed blocks, each summed by one thread, partial sums
    // added in order, so the loss and every gradient are identical for any thread count. Eigen's GEMM
    // (no SIMD) may block its sums differently: equal up to rounding.
    const bool narrow = kernels::narrow_product_fits<float>(16);
    for (std::size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);
        REQUIRE(two[i].numel() == one[i].numel());
        CHECK(std::equal(two[i].data(), two[i].data() + two[i].numel(), two_again[i].data()));
        if (narrow) CHECK(std::equal(two[i].data(), two[i].data() + two[i].numel(), one[i].data()));
        for (std::int64_t k = 0; k < one[i].numel(); ++k)
            REQUIRE(two[i].data()[k] == doctest::Approx(one[i].data()[k]).epsilon(1e-4).scale(1e-3));
    }
    CHECK(one[0].item() == two[0].item());  // the loss is summed block by block in a fixed order either way
    // So is the loss without a gradient (300 rows, 3000 classes of width 16: the narrow kernels).
    NoGradGuard no_grad;
    set_num_threads(2);
    const float no_grad_two = linear_cross_entropy(x, W, b, t).item();
    set_num_threads(1);
    CHECK(linear_cross_entropy(x, W, b, t).item() == no_grad_two);
    CHECK(no_grad_two == doctest::Approx(one[0].item()).epsilon(1e-5));
}

TEST_CASE("ops::linear_cross_entropy: errors name the problem") {
    const Tensorf x = Tensorf::zeros({3, 4}), W = Tensorf::zeros({5, 4}), b = Tensorf::zeros({5});
    CHECK_THROWS_WITH_AS(linear_cross_entropy(x, W, b, IndexTensor::from_data({3}, {0, 5, 1})),
                         "linear_cross_entropy: target 5 is out of range for 5 classes", Error);
    CHECK_THROWS_WITH_AS(linear_cross_entropy(x, Tensorf::zeros({5, 3}), b, IndexTensor::zeros({3})),
                         doctest::Contains("the weight must be (classes, in_features)"), Error);
    CHECK_THROWS_WITH_AS(linear_cross_entropy(x, W, Tensorf::zeros({4}), IndexTensor::zeros({3})),
                         "linear_cross_entropy: bias (4,) does not match weight (5,4) (expected (5,))", Error);
    CHECK_THROWS_WITH_AS(linear_cross_entropy(x, W, b, IndexTensor::zeros({3, 1})),
                         doctest::Contains("the targets must have the input's shape without the last"), Error);
    CHECK_THROWS_WITH_AS(linear_cross_entropy(Tensorf::zeros({0, 4}), W, b, IndexTensor::zeros({0})),
                         doctest::Contains("no rows"), Error);
}
