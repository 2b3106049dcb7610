// Tests for random.hpp: the seeded Generator, its distributions and saving/restoring its state.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "babygpt/random.hpp"

using babygpt::Error;
using babygpt::Generator;

namespace {

std::vector<std::uint64_t> draw_u64(Generator& gen, int n) {
    std::vector<std::uint64_t> out;
    for (int i = 0; i < n; ++i) out.push_back(gen.next_u64());
    return out;
}

std::vector<double> draw_mixed(Generator& gen, int n) {
    std::vector<double> out;
    for (int i = 0; i < n; ++i) {
        out.push_back(gen.uniform());
        out.push_back(gen.normal());
        out.push_back(static_cast<double>(gen.randint(1000)));
    }
    return out;
}

}  // namespace

TEST_CASE("Generator: the engine is the standard mt19937_64") {
    // The C++ standard fixes the 10000th output of a default-seeded (5489) mt19937_64.
    Generator gen(5489);
    std::uint64_t x = 0;
    for (int i = 0; i < 10000; ++i) x = gen.next_u64();
    CHECK(x == 9981545732273789042ULL);
}

TEST_CASE("Generator: the same seed gives the same sequence") {
    Generator a(42), b(42), c(43);
    CHECK(draw_u64(a, 50) == draw_u64(b, 50));
    CHECK(draw_mixed(a, 50) == draw_mixed(b, 50));
    Generator d(42);
    CHECK(draw_u64(d, 50) != draw_u64(c, 50));

    Generator e;  // default seed is 42
    Generator f(42);
    CHECK(e.next_u64() == f.next_u64());
}

TEST_CASE("Generator: seed restarts the sequence") {
    Generator gen(5);
    const std::vector<std::uint64_t> first = draw_u64(gen, 20);
    gen.seed(5);
    CHECK(draw_u64(gen, 20) == first);
}

TEST_CASE("Generator: state and set_state round trip") {
    Generator gen(1234);
    draw_mixed(gen, 17);  // move away from the seeded state
    const std::string saved = gen.state();
    CHECK_FALSE(saved.empty());
    const std::vector<double> expected = draw_mixed(gen, 100);

    // Restoring into the same generator continues identically...
    gen.set_state(saved);
    CHECK(draw_mixed(gen, 100) == expected);

    // ...and so does restoring into a generator that started from another seed.
    Generator other(999);
    other.set_state(saved);
    CHECK(other.state() == saved);
    CHECK(draw_mixed(other, 100) == expected);
}

TEST_CASE("Generator: set_state rejects text that is not a saved state") {
    Generator gen(3);
    const std::string before = gen.state();
    CHECK_THROWS_WITH_AS(gen.set_state("garbage"), "Generator::set_state: the text is not a saved generator state",
                         Error);
    CHECK_THROWS_AS(gen.set_state(""), Error);
    CHECK_THROWS_AS(gen.set_state("1 2 3"), Error);  // far too few numbers
    const std::string truncated = before.substr(0, before.size() / 2);
    CHECK_THROWS_AS(gen.set_state(truncated), Error);
    // A failed restore leaves the generator untouched.
    CHECK(gen.state() == before);
}

TEST_CASE("Generator: uniform stays in range") {
    Generator gen(11);
    double lo = 1.0, hi = 0.0, sum = 0.0;
    for (int i = 0; i < 10000; ++i) {
        const double u = gen.uniform();
        lo = std::min(lo, u);
        hi = std::max(hi, u);
        sum += u;
    }
    CHECK(lo >= 0.0);
    CHECK(hi < 1.0);
    CHECK(std::abs(sum / 10000 - 0.5) < 0.01);

    double lo2 = 10.0, hi2 = -10.0;
    for (int i = 0; i < 10000; ++i) {
        const double u = gen.uniform(-3.0, 5.0);
        lo2 = std::min(lo2, u);
        hi2 = std::max(hi2, u);
    }
    CHECK(lo2 >= -3.0);
    CHECK(hi2 < 5.0);
    CHECK(lo2 < -2.9);  // and it covers the range
    CHECK(hi2 > 4.9);
}

TEST_CASE("Generator: normal has mean 0 and std 1") {
    Generator gen(21);
    const int n = 20000;
    double sum = 0.0, sum_sq = 0.0;
    int beyond_two_sigma = 0;
    bool all_finite = true;
    for (int i = 0; i < n; ++i) {
        const double z = gen.normal();
        all_finite = all_finite && std::isfinite(z);
        sum += z;
        sum_sq += z * z;
        beyond_two_sigma += std::abs(z) > 2.0 ? 1 : 0;
    }
    CHECK(all_finite);
    const double mean = sum / n;
    const double var = sum_sq / n - mean * mean;
    CHECK(std::abs(mean) < 0.04);
    CHECK(std::abs(std::sqrt(var) - 1.0) < 0.03);
    CHECK(std::abs(beyond_two_sigma / double(n) - 0.0455) < 0.006);
}

TEST_CASE("Generator: randint stays in range and is roughly uniform") {
    Generator gen(77);
    const int n = 10, draws = 50000;
    std::vector<int> counts(n, 0);
    bool in_range = true;
    for (int i = 0; i < draws; ++i) {
        const std::int64_t k = gen.randint(n);
        if (k < 0 || k >= n) {
            in_range = false;
            continue;
        }
        ++counts[static_cast<std::size_t>(k)];
    }
    CHECK(in_range);
    const double expected = double(draws) / n;
    double chi2 = 0.0;
    for (int c : counts) {
        CHECK(std::abs(c - expected) < 0.05 * expected);
        chi2 += (c - expected) * (c - expected) / expected;
    }
    CHECK(chi2 < 40.0);  // 9 degrees of freedom: P(chi2 > 40) is below 1e-5

    bool always_zero = true;
    for (int i = 0; i < 100; ++i) always_zero = always_zero && gen.randint(1) == 0;
    CHECK(always_zero);

    const std::int64_t big = (std::int64_t(1) << 62) + 1;
    bool big_in_range = true;
    for (int i = 0; i < 1000; ++i) {
        const std::int64_t k = gen.randint(big);
        big_in_range = big_in_range && k >= 0 && k < big;
    }
    CHECK(big_in_range);
}

TEST_CASE("Generator: randint needs a positive range") {
    Generator gen(1);
    CHECK_THROWS_WITH_AS(gen.randint(0), "Generator::randint: the range size must be positive, got 0", Error);
    CHECK_THROWS_AS(gen.randint(-5), Error);
}
