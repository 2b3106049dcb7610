// Tests for nn/embedding.hpp: lookup, gradients (repeated ids accumulate), N(0, 1) initialisation and
// errors for out-of-range ids.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/embedding.hpp"

using namespace babygpt;

TEST_CASE("nn::Embedding: weight (num, dim) named 'weight'; forward picks rows") {
    Generator gen(1);
    nn::Embedding<double> emb(5, 3, gen);
    const auto named = emb.named_parameters();
    REQUIRE(named.size() == 1);
    CHECK(named[0].first == "weight");
    CHECK(named[0].second.shape() == Shape{5, 3});
    CHECK(emb.weight.requires_grad());

    const IndexTensor idx = IndexTensor::from_data({2, 3}, {4, 0, 4, 1, 2, 3});
    const Tensord out = emb.forward(idx);
    REQUIRE(out.shape() == Shape{2, 3, 3});
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t t = 0; t < 3; ++t)
            for (std::int64_t c = 0; c < 3; ++c) CHECK(out(b, t, c) == emb.weight(idx(b, t), c));

    // A 1-d index tensor (positions) gives (T, dim).
    const Tensord pos = emb.forward(IndexTensor::arange(4));
    CHECK(pos.shape() == Shape{4, 3});
    CHECK(pos(3, 2) == emb.weight(3, 2));
}

TEST_CASE("nn::Embedding: gradients of repeated ids accumulate") {
    Generator gen(2);
    nn::Embedding<double> emb(4, 2, gen);
    const IndexTensor idx = IndexTensor::from_data({5}, {1, 3, 1, 1, 0});
    sum(emb.forward(idx)).backward();
    const Tensord g = emb.weight.grad();
    REQUIRE(g.defined());
    const std::vector<double> counts{1, 3, 0, 1};
    for (std::int64_t v = 0; v < 4; ++v)
        for (std::int64_t c = 0; c < 2; ++c) CHECK(g(v, c) == counts[static_cast<std::size_t>(v)]);
}

TEST_CASE("nn::Embedding: gradcheck with repeated ids") {
    Generator gen(3);
    nn::Embedding<double> emb(6, 4, gen);
    const IndexTensor idx = IndexTensor::from_data({2, 4}, {5, 2, 5, 0, 2, 2, 3, 5});
    const GradcheckResult result =
        gradcheck([&](const std::vector<Tensord>&) { return emb.forward(idx); }, {emb.weight});
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("nn::Embedding: initialisation is N(0, 1)") {
    Generator gen(4);
    nn::Embedding<double> emb(200, 100, gen);  // 20000 samples
    double s = 0, s2 = 0;
    const std::int64_t n = emb.weight.numel();
    for (std::int64_t i = 0; i < n; ++i) s += emb.weight.data()[i];
    const double mean = s / static_cast<double>(n);
    for (std::int64_t i = 0; i < n; ++i) s2 += (emb.weight.data()[i] - mean) * (emb.weight.data()[i] - mean);
    const double stddev = std::sqrt(s2 / static_cast<double>(n));
    // Standard error of the mean is 1 / sqrt(20000) ~ 0.007; of the std ~ 0.005.
    CHECK(std::abs(mean) < 0.03);
    CHECK(stddev == doctest::Approx(1.0).epsilon(0.03));
    // Roughly 68% within one standard deviation, as a normal distribution has.
    std::int64_t within = 0;
    for (std::int64_t i = 0; i < n; ++i) within += std::abs(emb.weight.data()[i]) < 1.0;
    CHECK(static_cast<double>(within) / static_cast<double>(n) == doctest::Approx(0.6827).epsilon(0.03));

    nn::Embedding<float> embf(100, 100, gen);
    double sf = 0;
    for (std::int64_t i = 0; i < embf.weight.numel(); ++i) sf += embf.weight.data()[i];
    CHECK(std::abs(sf / 10000.0) < 0.04);
}

TEST_CASE("nn::Embedding: the same seed gives identical weights") {
    Generator g1(9), g2(9), g3(10);
    nn::Embedding<float> a(7, 5, g1), b(7, 5, g2), c(7, 5, g3);
    CHECK(a.weight.to_vector() == b.weight.to_vector());
    CHECK(a.weight.to_vector() != c.weight.to_vector());
}

TEST_CASE("nn::Embedding: ids out of range and invalid sizes throw") {
    Generator gen(5);
    nn::Embedding<float> emb(4, 2, gen);
    CHECK_THROWS_AS(emb.forward(IndexTensor::from_data({2}, {0, 4})), Error);
    CHECK_THROWS_AS(emb.forward(IndexTensor::from_data({1, 1}, {-1})), Error);
    try {
        emb.forward(IndexTensor::from_data({2}, {1, 7}));
        FAIL("expected an error");
    } catch (const Error& e) {
        const std::string message = e.what();
        CHECK(message.find('7') != std::string::npos);
        CHECK(message.find("out of range") != std::string::npos);
    }
    CHECK_THROWS_AS(nn::Embedding<float>(0, 3, gen), Error);
    CHECK_THROWS_AS(nn::Embedding<float>(3, 0, gen), Error);
}
