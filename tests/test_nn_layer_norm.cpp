// Tests for nn/layer_norm.hpp: weight 1 / bias 0 initialisation, forward values against PyTorch and
// gradcheck over the input and both parameters.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/layer_norm.hpp"

using namespace babygpt;

TEST_CASE("nn::LayerNorm: weight 1 and bias 0 of shape (dim), eps 1e-5") {
    nn::LayerNorm<float> ln(6);
    const auto named = ln.named_parameters();
    REQUIRE(named.size() == 2);
    CHECK(named[0].first == "weight");
    CHECK(named[1].first == "bias");
    CHECK(ln.weight.shape() == Shape{6});
    CHECK(ln.bias.shape() == Shape{6});
    for (std::int64_t i = 0; i < 6; ++i) {
        CHECK(ln.weight(i) == 1.0f);
        CHECK(ln.bias(i) == 0.0f);
    }
    CHECK(ln.eps == 1e-5);
    CHECK(ln.weight.requires_grad());
    CHECK(ln.bias.requires_grad());
    CHECK(ln.parameter_count() == 12);
}

TEST_CASE("nn::LayerNorm: forward equals PyTorch's F.layer_norm") {
    nn::LayerNorm<double> ln(4);
    const Tensord x = Tensord::from_data({2, 4}, {0.5, -1.0, 2.0, 0.25, 3.0, 3.0, 3.5, -2.0});

    // torch.nn.functional.layer_norm(x, (4,), None, None, 1e-5) in float64
    const std::vector<double> plain{0.05862078032576695, -1.3482779474926403, 1.465519508144174, -0.1758623409773009,
                                    0.5007728995456793,  0.5007728995456793,  0.7233386326770922, -1.7248844317684509};
    Tensord y = ln.forward(x);
    REQUIRE(y.shape() == Shape{2, 4});
    for (std::size_t i = 0; i < plain.size(); ++i) CHECK(y.data()[i] == doctest::Approx(plain[i]).epsilon(1e-10));

    ln.weight.copy_(Tensord::from_data({4}, {1.5, -0.5, 2.0, 1.0}));
    ln.bias.copy_(Tensord::from_data({4}, {0.1, 0.2, -0.3, 0.0}));
    // torch.nn.functional.layer_norm(x, (4,), w, b, 1e-5) in float64
    const std::vector<double> affine{0.18793117048865043, 0.8741389737463201, 2.6310390162883484, -0.1758623409773009,
                                     0.8511593493185189, -0.050386449772839625, 1.1466772653541843, -1.7248844317684509};
    y = ln.forward(x);
    for (std::size_t i = 0; i < affine.size(); ++i) CHECK(y.data()[i] == doctest::Approx(affine[i]).epsilon(1e-10));
}

TEST_CASE("nn::LayerNorm: normalises the last dimension of (B, T, C)") {
    Generator gen(1);
    nn::LayerNorm<double> ln(8);
    const Tensord x = Tensord::randn({2, 3, 8}, gen, 3.0, 2.0);
    const Tensord y = ln.forward(x);
    REQUIRE(y.shape() == Shape{2, 3, 8});
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t t = 0; t < 3; ++t) {
            double mean = 0, var = 0;
            for (std::int64_t c = 0; c < 8; ++c) mean += y(b, t, c) / 8;
            for (std::int64_t c = 0; c < 8; ++c) var += (y(b, t, c) - mean) * (y(b, t, c) - mean) / 8;
            CHECK(mean == doctest::Approx(0.0).epsilon(1e-12).scale(1.0));
            CHECK(var == doctest::Approx(1.0).epsilon(1e-4));  // eps makes it slightly below 1
        }
}

TEST_CASE("nn::LayerNorm: gradcheck over input, weight and bias") {
    Generator gen(2);
    nn::LayerNorm<double> ln(5);
    ln.weight.copy_(Tensord::randn({5}, gen, 1.0, 0.5));
    ln.bias.copy_(Tensord::randn({5}, gen, 0.0, 0.5));
    Tensord x = Tensord::randn({2, 3, 5}, gen).requires_grad_();
    const GradcheckResult result =
        gradcheck([&](const std::vector<Tensord>&) { return ln.forward(x); }, {x, ln.weight, ln.bias});
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("nn::LayerNorm: invalid dim and mismatched input throw") {
    CHECK_THROWS_AS(nn::LayerNorm<float>(0), Error);
    CHECK_THROWS_AS(nn::LayerNorm<float>(-3), Error);
    nn::LayerNorm<float> ln(4);
    CHECK_THROWS_AS(ln.forward(Tensorf::zeros({2, 5})), Error);
}
