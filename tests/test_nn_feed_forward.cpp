// Tests for nn/feed_forward.hpp: the reference's FeedFoward, net = Sequential(Linear(C, 4C), ReLU,
// Linear(4C, C), Dropout): names net.0 / net.2, values, mode propagation and gradchecks.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/feed_forward.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

TEST_CASE("nn::FeedForward: parameters are net.0 (4C, C) and net.2 (C, 4C), as in the reference") {
    Generator gen(1);
    nn::FeedForward<float> ffwd(8, 0.0, gen);
    std::vector<std::string> names;
    std::vector<Shape> shapes;
    for (const auto& [name, p] : ffwd.named_parameters()) {
        names.push_back(name);
        shapes.push_back(p.shape());
    }
    CHECK(names == std::vector<std::string>{"net.0.weight", "net.0.bias", "net.2.weight", "net.2.bias"});
    CHECK(shapes == std::vector<Shape>{{32, 8}, {32}, {8, 32}, {8}});
    CHECK(ffwd.net.size() == 4);  // Linear, ReLU, Linear, Dropout
    CHECK(ffwd.parameter_count() == 32 * 8 + 32 + 8 * 32 + 8);
}

TEST_CASE("nn::FeedForward: forward is linear -> relu -> linear") {
    Generator gen(2);
    nn::FeedForward<double> ffwd(4, 0.0, gen);
    const auto params = ffwd.parameters();
    const Tensord x = Tensord::randn({2, 3, 4}, gen);
    const Tensord y = ffwd.forward(x);
    const Tensord expected = linear(relu(linear(x, params[0], params[1])), params[2], params[3]);
    REQUIRE(y.shape() == Shape{2, 3, 4});
    for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-14));
}

TEST_CASE("nn::FeedForward: gradcheck, dropout 0") {
    Generator gen(3);
    nn::FeedForward<double> ffwd(3, 0.0, gen);
    Tensord x = Tensord::randn({2, 2, 3}, gen).requires_grad_();
    const GradcheckResult result =
        gradcheck([&](const std::vector<Tensord>&) { return ffwd.forward(x); }, with_parameters(x, ffwd));
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("nn::FeedForward: gradcheck with dropout in training, the generator re-seeded per call") {
    Generator gen(4);
    nn::FeedForward<double> ffwd(3, 0.4, gen);
    Tensord x = Tensord::randn({2, 2, 3}, gen).requires_grad_();
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>&) {
            gen.seed(5);
            return ffwd.forward(x);
        },
        with_parameters(x, ffwd));
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("nn::FeedForward: eval() turns the trailing dropout into the identity") {
    Generator g1(6), g2(6);
    nn::FeedForward<double> with_dropout(4, 0.5, g1);
    nn::FeedForward<double> without(4, 0.0, g2);  // same seed: same weights
    Generator data(7);
    const Tensord x = Tensord::randn({3, 4}, data);
    with_dropout.eval();
    CHECK_FALSE(with_dropout.net.is_training());
    const Tensord a = with_dropout.forward(x), b = without.forward(x);
    for (std::int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == b.data()[i]);

    with_dropout.train();
    const Tensord c = with_dropout.forward(x);
    std::int64_t zeros = 0;
    for (std::int64_t i = 0; i < c.numel(); ++i) zeros += c.data()[i] == 0.0 && b.data()[i] != 0.0;
    CHECK(zeros > 0);
}
