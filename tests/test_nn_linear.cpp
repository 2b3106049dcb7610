// Tests for nn/linear.hpp: parameter names and shapes, forward values against PyTorch, gradients
// (gradcheck with and without bias) and PyTorch's default initialisation U(-1/sqrt(in), 1/sqrt(in)).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/linear.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

template <typename T>
void sample_stats(const Tensor<T>& t, double& mean, double& var) {
    double s = 0, s2 = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t.data()[i]);
    mean = s / static_cast<double>(t.numel());
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        const double d = static_cast<double>(t.data()[i]) - mean;
        s2 += d * d;
    }
    var = s2 / static_cast<double>(t.numel());
}

}  // namespace

TEST_CASE("nn::Linear: parameters are weight (out, in) and bias (out), named as in PyTorch") {
    Generator gen(1);
    nn::Linear<float> fc(3, 5, true, gen);
    const auto named = fc.named_parameters();
    REQUIRE(named.size() == 2);
    CHECK(named[0].first == "weight");
    CHECK(named[0].second.shape() == Shape{5, 3});
    CHECK(named[1].first == "bias");
    CHECK(named[1].second.shape() == Shape{5});
    CHECK(fc.weight.requires_grad());
    CHECK(fc.bias.requires_grad());
    CHECK(fc.parameter_count() == 20);

    nn::Linear<float> nobias(3, 5, false, gen);
    CHECK_FALSE(nobias.bias.defined());
    REQUIRE(nobias.named_parameters().size() == 1);
    CHECK(nobias.named_parameters()[0].first == "weight");
    CHECK(nobias.parameter_count() == 15);
}

TEST_CASE("nn::Linear: forward equals PyTorch's F.linear") {
    Generator gen(0);
    nn::Linear<double> fc(3, 4, true, gen);
    fc.weight.copy_(Tensord::from_data({4, 3}, {0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, 0.0, 1.0, -1.0}));
    fc.bias.copy_(Tensord::from_data({4}, {0.01, -0.02, 0.03, -0.04}));
    const Tensord x = Tensord::from_data({2, 3}, {0.5, -1.0, 2.0, 1.5, 0.25, -0.75});
    const Tensord y = fc.forward(x);
    REQUIRE(y.shape() == Shape{2, 4});
    // torch.nn.functional.linear(x, W, b) in float64
    const std::vector<double> expected{0.45999999999999996, -1.92, 2.98, -3.04,
                                       -0.014999999999999966, -0.04500000000000014, 0.20499999999999982, 0.96};
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(y.data()[i] == doctest::Approx(expected[i]).epsilon(1e-12));

    nn::Linear<double> nobias(3, 4, false, gen);
    nobias.weight.copy_(fc.weight);
    // torch.nn.functional.linear(x, W) in float64
    const std::vector<double> expected_nobias{0.44999999999999996, -1.9, 2.95, -3.0,
                                              -0.024999999999999967, -0.025000000000000133, 0.17499999999999982, 1.0};
    const Tensord z = nobias.forward(x);
    for (std::size_t i = 0; i < expected_nobias.size(); ++i)
        CHECK(z.data()[i] == doctest::Approx(expected_nobias[i]).epsilon(1e-12));
}

TEST_CASE("nn::Linear: applies to the last dimension of a (B, T, in) input") {
    Generator gen(2);
    nn::Linear<double> fc(4, 3, true, gen);
    const Tensord x = Tensord::randn({2, 5, 4}, gen);
    const Tensord y = fc.forward(x);
    REQUIRE(y.shape() == Shape{2, 5, 3});
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t t = 0; t < 5; ++t)
            for (std::int64_t o = 0; o < 3; ++o) {
                double expected = fc.bias(o);
                for (std::int64_t i = 0; i < 4; ++i) expected += x(b, t, i) * fc.weight(o, i);
                CHECK(y(b, t, o) == doctest::Approx(expected).epsilon(1e-12));
            }
    CHECK_THROWS_AS(fc.forward(Tensord::zeros({2, 3})), Error);  // in_features mismatch
}

TEST_CASE("nn::Linear: gradcheck with bias") {
    Generator gen(3);
    nn::Linear<double> fc(4, 3, true, gen);
    Tensord x = Tensord::randn({2, 3, 4}, gen).requires_grad_();
    require_gradcheck([&](const std::vector<Tensord>&) { return fc.forward(x); }, {x, fc.weight, fc.bias});
}

TEST_CASE("nn::Linear: gradcheck without bias") {
    Generator gen(4);
    nn::Linear<double> fc(5, 2, false, gen);
    Tensord x = Tensord::randn({3, 5}, gen).requires_grad_();
    require_gradcheck([&](const std::vector<Tensord>&) { return fc.forward(x); }, {x, fc.weight});
}

TEST_CASE("nn::Linear: initialisation is U(-1/sqrt(in), 1/sqrt(in)) for weight and bias") {
    Generator gen(5);
    const std::int64_t in = 64, out = 256;
    nn::Linear<double> fc(in, out, true, gen);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    std::int64_t outside = 0;
    for (std::int64_t i = 0; i < fc.weight.numel(); ++i) outside += std::abs(fc.weight.data()[i]) > bound;
    for (std::int64_t i = 0; i < fc.bias.numel(); ++i) outside += std::abs(fc.bias.data()[i]) > bound;
    CHECK(outside == 0);
    double mean = 0, var = 0;
    sample_stats(fc.weight, mean, var);
    // 16384 samples of U(-b, b): mean 0 (standard error b / sqrt(3 * 16384) ~ 0.0045 b), variance b^2 / 3.
    CHECK(std::abs(mean) < 0.03 * bound);
    CHECK(var == doctest::Approx(bound * bound / 3.0).epsilon(0.05));
    // Spread over the whole interval, not a narrower one.
    double lo = 0, hi = 0;
    for (std::int64_t i = 0; i < fc.weight.numel(); ++i) {
        lo = std::min(lo, fc.weight.data()[i]);
        hi = std::max(hi, fc.weight.data()[i]);
    }
    CHECK(lo < -0.99 * bound);
    CHECK(hi > 0.99 * bound);

    sample_stats(fc.bias, mean, var);  // 256 samples: loose bounds
    CHECK(std::abs(mean) < 0.15 * bound);
    CHECK(var == doctest::Approx(bound * bound / 3.0).epsilon(0.3));

    // Float parameters follow the same distribution.
    nn::Linear<float> ff(16, 512, true, gen);
    sample_stats(ff.weight, mean, var);
    CHECK(std::abs(mean) < 0.05 * 0.25);
    CHECK(var == doctest::Approx(0.25 * 0.25 / 3.0).epsilon(0.05));
}

TEST_CASE("nn::Linear: the same seed gives identical weights, another seed different ones") {
    Generator g1(42), g2(42), g3(43);
    nn::Linear<float> a(8, 6, true, g1), b(8, 6, true, g2), c(8, 6, true, g3);
    CHECK(a.weight.to_vector() == b.weight.to_vector());
    CHECK(a.bias.to_vector() == b.bias.to_vector());
    CHECK(a.weight.to_vector() != c.weight.to_vector());
    // Successive layers from one generator differ.
    nn::Linear<float> d(8, 6, true, g1);
    CHECK(a.weight.to_vector() != d.weight.to_vector());
}

TEST_CASE("nn::Linear: invalid sizes throw") {
    Generator gen(6);
    CHECK_THROWS_AS(nn::Linear<float>(0, 3, true, gen), Error);
    CHECK_THROWS_AS(nn::Linear<float>(3, 0, true, gen), Error);
    CHECK_THROWS_AS(nn::Linear<float>(-2, 3, false, gen), Error);
    try {
        nn::Linear<float>(0, 3, true, gen);
    } catch (const Error& e) {
        CHECK(std::string(e.what()).find("in_features=0") != std::string::npos);
    }
}
