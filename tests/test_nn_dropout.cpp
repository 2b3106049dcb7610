// Tests for nn/dropout.hpp: identity in eval mode (and with p = 0), the inverted-dropout mask in
// training, reproducibility from the generator's seed, gradients, and invalid probabilities.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/dropout.hpp"

using namespace babygpt;

TEST_CASE("nn::Dropout: has no parameters; identity in eval mode") {
    Generator gen(1);
    nn::Dropout<double> drop(0.5, gen);
    CHECK(drop.named_parameters().empty());
    CHECK(drop.p == 0.5);
    CHECK(drop.is_training());

    drop.eval();
    Generator data_gen(2);
    const Tensord x = Tensord::randn({4, 5}, data_gen);
    const std::string before = gen.state();
    const Tensord y = drop.forward(x);
    CHECK(y.to_vector() == x.to_vector());
    CHECK(gen.state() == before);  // no random numbers are drawn in eval mode
}

TEST_CASE("nn::Dropout: p = 0 is the identity in training mode too") {
    Generator gen(1);
    nn::Dropout<double> drop(0.0, gen);
    Generator data_gen(3);
    const Tensord x = Tensord::randn({3, 7}, data_gen);
    CHECK(drop.forward(x).to_vector() == x.to_vector());
}

TEST_CASE("nn::Dropout: training zeroes about p of the elements and scales the rest by 1/(1-p)") {
    Generator gen(4);
    const double p = 0.3;
    nn::Dropout<double> drop(p, gen);
    const Tensord x = Tensord::full({100, 100}, 2.0);
    const Tensord y = drop.forward(x);
    REQUIRE(y.shape() == x.shape());
    std::int64_t zeros = 0;
    double total = 0;
    for (std::int64_t i = 0; i < y.numel(); ++i) {
        const double v = y.data()[i];
        if (v == 0.0) ++zeros;
        else CHECK(v == doctest::Approx(2.0 / (1.0 - p)).epsilon(1e-12));
        total += v;
    }
    // 10000 Bernoulli(0.3) draws: standard error ~0.0046.
    CHECK(static_cast<double>(zeros) / 1e4 == doctest::Approx(p).epsilon(0.07));
    CHECK(total / 1e4 == doctest::Approx(2.0).epsilon(0.05));  // the expectation is preserved

    // A second call draws a new mask.
    const Tensord y2 = drop.forward(x);
    CHECK(y2.to_vector() != y.to_vector());
}

TEST_CASE("nn::Dropout: the mask comes from the generator, so the same seed gives the same mask") {
    Generator g1(11), g2(11), g3(12);
    nn::Dropout<float> a(0.5, g1), b(0.5, g2), c(0.5, g3);
    Generator data_gen(5);
    const Tensorf x = Tensorf::randn({50}, data_gen);
    CHECK(a.forward(x).to_vector() == b.forward(x).to_vector());
    CHECK(a.forward(x).to_vector() != c.forward(x).to_vector());
    g1.seed(11);
    g2.seed(11);
    CHECK(a.forward(x).to_vector() == b.forward(x).to_vector());
}

TEST_CASE("nn::Dropout: the gradient is the mask") {
    Generator gen(6);
    const double p = 0.4;
    nn::Dropout<double> drop(p, gen);
    Tensord x = Tensord::full({40}, 1.0).requires_grad_();
    const Tensord y = drop.forward(x);
    sum(y).backward();
    const Tensord g = x.grad();
    REQUIRE(g.defined());
    for (std::int64_t i = 0; i < 40; ++i) {
        CAPTURE(i);
        CHECK(g(i) == doctest::Approx(y(i)).epsilon(1e-12));  // y = mask * 1
        CHECK((g(i) == 0.0 || g(i) == doctest::Approx(1.0 / (1.0 - p)).epsilon(1e-12)));
    }
}

TEST_CASE("nn::Dropout: gradcheck in training with the same mask for every evaluation") {
    Generator gen(7);
    nn::Dropout<double> drop(0.5, gen);
    Generator data_gen(8);
    Tensord x = Tensord::randn({3, 6}, data_gen).requires_grad_();
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>&) {
            gen.seed(123);  // re-seeded per call: every evaluation draws the same mask
            return drop.forward(x);
        },
        {x});
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
    // The check is not vacuous: the mask drops some elements and keeps others.
    gen.seed(123);
    const Tensord y = drop.forward(x.detach());
    std::int64_t zeros = 0;
    for (std::int64_t i = 0; i < y.numel(); ++i) zeros += y.data()[i] == 0.0;
    CHECK(zeros > 0);
    CHECK(zeros < y.numel());
}

TEST_CASE("nn::Dropout: probabilities below 0 or from 1 up throw") {
    Generator gen(9);
    CHECK_THROWS_AS(nn::Dropout<float>(1.0, gen), Error);
    CHECK_THROWS_AS(nn::Dropout<float>(-0.1, gen), Error);
    CHECK_THROWS_AS(nn::Dropout<float>(1.5, gen), Error);
    CHECK_NOTHROW(nn::Dropout<float>(0.0, gen));
    CHECK_NOTHROW(nn::Dropout<float>(0.99, gen));
}
