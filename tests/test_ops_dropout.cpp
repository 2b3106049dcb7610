// Tests for ops/dropout.hpp: training (zero with probability p, scale survivors by 1 / (1 - p)) and
// evaluation (the identity).

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "babygpt/ops/dropout.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::dropout: evaluation is the identity", T, float, double) {
    Generator gen(1);
    const std::string before = gen.state();
    const Tensor<T> x = Tensor<T>::from_data({2, 2}, {1, -2, 3, 4});
    const Tensor<T> y = dropout(x, 0.5, false, gen);
    CHECK(y.shape() == x.shape());
    CHECK(y.to_vector() == x.to_vector());
    CHECK(y.data() == x.data());     // nothing is copied
    CHECK(gen.state() == before);    // and no random numbers are drawn
    const Tensor<T> z = dropout(x, 0.0, true, gen);  // p = 0 in training: also the identity
    CHECK(z.to_vector() == x.to_vector());
    CHECK(gen.state() == before);
}

TEST_CASE_TEMPLATE("ops::dropout: training zeroes and rescales", T, float, double) {
    Generator gen(2);
    const double p = 0.3;
    const Tensor<T> x = Tensor<T>::full({100, 100}, T(2));
    const Tensor<T> y = dropout(x, p, true, gen);
    REQUIRE(y.shape() == x.shape());
    std::int64_t kept = 0, other = 0;
    double total = 0;
    const T scaled = static_cast<T>(2.0 / (1.0 - p));
    for (std::int64_t i = 0; i < y.numel(); ++i) {
        const T v = y.data()[i];
        if (v == scaled) ++kept;
        else if (v != T(0)) ++other;
        total += double(v);
    }
    CHECK(other == 0);  // every element is either dropped or kept and scaled
    // The kept fraction is 1 - p (standard error 0.0046 over 10000 elements) and the mean is unchanged.
    CHECK(std::abs(kept / 10000.0 - (1.0 - p)) < 0.02);
    CHECK(std::abs(total / 10000.0 - 2.0) < 0.06);
    const std::vector<T> input = x.to_vector();
    CHECK(std::all_of(input.begin(), input.end(), [](T v) { return v == T(2); }));  // the input is untouched
}

TEST_CASE_TEMPLATE("ops::dropout: the mask follows the generator by hand", T, float, double) {
    // One 64-bit key is drawn from the generator; element i is kept when the top 53 bits of the
    // splitmix64 finaliser of key + i * 0x9E3779B97F4A7C15, as a fraction of 2^53, are >= p.
    const double p = 0.5;
    const Tensor<T> x = Tensor<T>::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
    Generator gen(3), replay(3);
    const Tensor<T> y = dropout(x, p, true, gen);
    const std::uint64_t key = replay.next_u64();
    for (std::uint64_t i = 0; i < 6; ++i) {
        std::uint64_t z = key + i * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        const bool keep = static_cast<double>(z >> 11) / 9007199254740992.0 >= p;
        CHECK(y.data()[i] == (keep ? x.data()[i] * T(2) : T(0)));
    }
}

TEST_CASE("ops::dropout: reproducible from the seed") {
    const Tensorf x = Tensorf::ones({8, 8});
    Generator a(7), b(7), c(8);
    const Tensorf ya = dropout(x, 0.5, true, a);
    CHECK(ya.to_vector() == dropout(x, 0.5, true, b).to_vector());
    CHECK(ya.to_vector() != dropout(x, 0.5, true, c).to_vector());
    // Consecutive calls draw new masks.
    CHECK(dropout(x, 0.5, true, a).to_vector() != ya.to_vector());
}

TEST_CASE("ops::dropout: p = 1 drops everything") {
    Generator gen(4);
    const Tensorf y = dropout(Tensorf::ones({3, 3}), 1.0, true, gen);
    CHECK(y.to_vector() == std::vector<float>(9, 0.0f));
}

TEST_CASE("ops::dropout: p out of range throws") {
    Generator gen(5);
    const Tensorf x = Tensorf::ones({2});
    CHECK_THROWS_WITH_AS(dropout(x, 1.5, true, gen), "dropout: probability must be in [0, 1], got 1.5", Error);
    CHECK_THROWS_WITH_AS(dropout(x, -0.1, true, gen), doctest::Contains("dropout: probability must be in [0, 1]"),
                         Error);
    CHECK_THROWS_WITH_AS(dropout(x, 2.0, false, gen), doctest::Contains("got 2"), Error);  // checked in eval too
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::dropout: gradcheck in training") {
    // A fresh generator with the same seed on every call, so each evaluation uses the same mask.
    check_gradcheck(
        [](const std::vector<Tensord>& in) {
            Generator gen(11);
            return dropout(in[0], 0.4, true, gen);
        },
        {param({3, 4, 5}, 1)});
    // An input used more than once, through dropout and around it.
    check_gradcheck(
        [](const std::vector<Tensord>& in) {
            Generator gen(12);
            return dropout(in[0] * in[0], 0.25, true, gen) + in[0];
        },
        {param({4, 6}, 2)});
}

TEST_CASE("ops::dropout: gradcheck in evaluation") {
    check_gradcheck(
        [](const std::vector<Tensord>& in) {
            Generator gen(13);
            return dropout(in[0], 0.4, false, gen) * in[0];
        },
        {param({3, 4}, 3)});
}

TEST_CASE("ops::dropout: the gradient is the mask") {
    Tensord x = Tensord::ones({50});
    x.requires_grad_();
    Generator gen(14);
    const Tensord y = dropout(x, 0.2, true, gen);
    sum(y).backward();
    // x is all ones, so y is exactly the mask: 0 or 1.25.
    CHECK(x.grad().to_vector() == y.to_vector());
}
