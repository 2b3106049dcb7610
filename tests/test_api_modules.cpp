// Tests for building modules as in libtorch: Linear with a bias by default, and modules without a
// Generator drawing from the default generator that babygpt::manual_seed re-seeds.

#include <doctest/doctest.h>

#include <vector>

#include "babygpt/nn/embedding.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/random.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

std::vector<double> weights_of(const Tensorf& t) { return std::vector<double>(t.data(), t.data() + t.numel()); }

}  // namespace

TEST_CASE("nn::Linear(in, out): a bias by default, initialised within +-1/sqrt(in)") {
    nn::Linear<float> fc(2, 8);
    REQUIRE(fc.bias.defined());
    CHECK(fc.weight.shape() == Shape{8, 2});
    CHECK(fc.bias.shape() == Shape{8});
    CHECK(fc.named_parameters().size() == 2);
    const double bound = 1.0 / std::sqrt(2.0);
    for (double w : weights_of(fc.weight)) CHECK(std::abs(w) <= bound);
    nn::Linear<float> no_bias(2, 8, /*bias=*/false);
    CHECK_FALSE(no_bias.bias.defined());
    CHECK(no_bias.named_parameters().size() == 1);
}

TEST_CASE("manual_seed: modules built without a Generator get the same weights after the same seed") {
    manual_seed(123);
    nn::Linear<float> a(3, 4);
    nn::Embedding<float> ea(5, 2);
    manual_seed(123);
    nn::Linear<float> b(3, 4);
    nn::Embedding<float> eb(5, 2);
    CHECK(weights_of(a.weight) == weights_of(b.weight));
    CHECK(weights_of(a.bias) == weights_of(b.bias));
    CHECK(weights_of(ea.weight) == weights_of(eb.weight));

    // Without re-seeding, the next module continues the stream: different weights.
    nn::Linear<float> c(3, 4);
    CHECK(weights_of(c.weight) != weights_of(a.weight));

    // The default generator after manual_seed(s) draws what Generator(s) draws.
    manual_seed(123);
    Generator gen(123);
    nn::Linear<float> d(3, 4, gen);
    CHECK(weights_of(d.weight) == weights_of(a.weight));
    CHECK(weights_of(d.bias) == weights_of(a.bias));
    Generator fresh(123);  // an explicit Generator left the default one untouched, still at its seed
    CHECK(default_generator().next_u64() == fresh.next_u64());
}

TEST_CASE("nn::Linear and nn::Embedding: an explicit Generator still decides the weights") {
    Generator g1(9), g2(9);
    nn::Linear<float> a(4, 3, true, g1);
    nn::Linear<float> b(4, 3, g2);  // bias, weights from g2
    CHECK(weights_of(a.weight) == weights_of(b.weight));
    CHECK(weights_of(a.bias) == weights_of(b.bias));
    Generator g3(5), g4(5);
    CHECK(weights_of(nn::Embedding<float>(6, 3, g3).weight) == weights_of(nn::Embedding<float>(6, 3, g4).weight));
}

TEST_CASE("nn::Linear: the default-built layer computes x W^T + b") {
    nn::Linear<float> fc(2, 3);
    const Tensorf x = Tensorf::from_data({1, 2}, {1.5f, -2.0f});
    const Tensorf y = fc.forward(x);
    std::vector<double> expected(3);
    for (int o = 0; o < 3; ++o)
        expected[o] = 1.5 * fc.weight.data()[o * 2] - 2.0 * fc.weight.data()[o * 2 + 1] + fc.bias.data()[o];
    check_values(y, {1, 3}, expected);
}
