// Tests for ops/linear.hpp: linear(x, W, b) against PyTorch's F.linear, its gradients (gradcheck with
// and without bias, any leading dimensions) and shape errors; cat_rows values, gradients and errors.

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/ops/linear.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

const std::vector<double> kX{0.5, -1.0, 2.0, 1.5, 0.25, -0.75};                                  // (2, 3)
const std::vector<double> kW{0.1, 0.2, 0.3, -0.4, 0.5, -0.6, 0.7, -0.8, 0.9, 0.0, 1.0, -1.0};  // (4, 3)
const std::vector<double> kB{0.01, -0.02, 0.03, -0.04};                                         // (4)

}  // namespace

TEST_CASE("ops::linear: values equal PyTorch's F.linear, with and without bias") {
    const Tensord x = Tensord::from_data({2, 3}, kX);
    const Tensord W = Tensord::from_data({4, 3}, kW);
    const Tensord b = Tensord::from_data({4}, kB);
    // torch.nn.functional.linear(x, W, b) in float64
    const std::vector<double> with_bias{0.45999999999999996, -1.92, 2.98, -3.04,
                                        -0.014999999999999966, -0.04500000000000014, 0.20499999999999982, 0.96};
    // torch.nn.functional.linear(x, W) in float64
    const std::vector<double> without_bias{0.44999999999999996, -1.9, 2.95, -3.0,
                                           -0.024999999999999967, -0.025000000000000133, 0.17499999999999982, 1.0};
    const Tensord y = linear(x, W, b);
    const Tensord z = linear(x, W);
    REQUIRE(y.shape() == Shape{2, 4});
    REQUIRE(z.shape() == Shape{2, 4});
    for (std::size_t i = 0; i < 8; ++i) {
        CHECK(y.data()[i] == doctest::Approx(with_bias[i]).epsilon(1e-12));
        CHECK(z.data()[i] == doctest::Approx(without_bias[i]).epsilon(1e-12));
    }
    // Float gives the same numbers to float precision.
    const Tensorf yf = linear(Tensorf::from_data({2, 3}, std::vector<float>(kX.begin(), kX.end())),
                              Tensorf::from_data({4, 3}, std::vector<float>(kW.begin(), kW.end())),
                              Tensorf::from_data({4}, std::vector<float>(kB.begin(), kB.end())));
    for (std::size_t i = 0; i < 8; ++i) CHECK(yf.data()[i] == doctest::Approx(with_bias[i]).epsilon(1e-5));
}

TEST_CASE("ops::linear: leading dimensions fold into rows; a 1-d input gives a 1-d output") {
    Generator gen(1);
    const Tensord W = Tensord::randn({3, 4}, gen), b = Tensord::randn({3}, gen);
    const Tensord x = Tensord::randn({2, 3, 5, 4}, gen);
    const Tensord y = linear(x, W, b);
    REQUIRE(y.shape() == Shape{2, 3, 5, 3});
    const Tensord flat = linear(reshape(x, {30, 4}), W, b);
    for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == flat.data()[i]);

    const Tensord v = linear(Tensord::from_data({4}, {1, 0, 0, 0}), W, b);
    REQUIRE(v.shape() == Shape{3});
    for (std::int64_t o = 0; o < 3; ++o) CHECK(v(o) == doctest::Approx(W(o, 0) + b(o)).epsilon(1e-14));
}

TEST_CASE("ops::linear: gradients by hand: dx = g W, dW = g^T x, db = column sums of g") {
    Tensord x = Tensord::from_data({2, 3}, kX).requires_grad_();
    Tensord W = Tensord::from_data({4, 3}, kW).requires_grad_();
    Tensord b = Tensord::from_data({4}, kB).requires_grad_();
    sum(linear(x, W, b)).backward();  // g = ones(2, 4)
    for (std::int64_t n = 0; n < 2; ++n)
        for (std::int64_t i = 0; i < 3; ++i) {
            double col = 0;
            for (std::int64_t o = 0; o < 4; ++o) col += W(o, i);
            CHECK(x.grad()(n, i) == doctest::Approx(col).epsilon(1e-14));
        }
    for (std::int64_t o = 0; o < 4; ++o) {
        CHECK(b.grad()(o) == 2.0);
        for (std::int64_t i = 0; i < 3; ++i) CHECK(W.grad()(o, i) == doctest::Approx(x(0, i) + x(1, i)).epsilon(1e-14));
    }
}

TEST_CASE("ops::linear: gradcheck with bias, (B, T, in) input") {
    Generator gen(2);
    Tensord x = Tensord::randn({2, 3, 4}, gen).requires_grad_();
    Tensord W = Tensord::randn({5, 4}, gen).requires_grad_();
    Tensord b = Tensord::randn({5}, gen).requires_grad_();
    require_gradcheck([](const std::vector<Tensord>& in) { return linear(in[0], in[1], in[2]); }, {x, W, b});
}

TEST_CASE("ops::linear: gradcheck without bias, and with only some inputs requiring grad") {
    Generator gen(3);
    Tensord x = Tensord::randn({3, 4}, gen).requires_grad_();
    Tensord W = Tensord::randn({2, 4}, gen).requires_grad_();
    require_gradcheck([](const std::vector<Tensord>& in) { return linear(in[0], in[1]); }, {x, W});

    const Tensord W_const = Tensord::randn({2, 4}, gen);
    const Tensord b_const = Tensord::randn({2}, gen);
    require_gradcheck([&](const std::vector<Tensord>& in) { return linear(in[0], W_const, b_const); }, {x});
    const Tensord x_const = Tensord::randn({3, 4}, gen);
    Tensord b = Tensord::randn({2}, gen).requires_grad_();
    require_gradcheck([&](const std::vector<Tensord>& in) { return linear(x_const, in[0], in[1]); }, {W, b});
}

TEST_CASE("ops::linear: widths of 1, 2 and 4 SIMD packets (the narrow kernels): values against Eigen, gradcheck") {
    const std::int64_t P = kernels::kPacketSize<double>;
    Generator gen(4);
    // (in, out): a narrow output (forward), a narrow input (dx and dW), both, and neither; a narrow input
    // into a wider output (forward in panels, with a partial one) and back (dx in panels, dW transposed).
    for (const auto& [in, out] : std::vector<std::pair<std::int64_t, std::int64_t>>{
             {3, P}, {2 * P, 5}, {4 * P, 2 * P}, {3 * P + 1, 3}, {P, 5 * P + 3}, {5 * P + 3, 2 * P}}) {
        const auto& in_value = in;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(in_value);
        const auto& out_value = out;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(out_value);
        Tensord x = Tensord::randn({2, 11, in}, gen).requires_grad_();  // 22 rows: partial register tiles
        Tensord W = Tensord::randn({out, in}, gen).requires_grad_();
        Tensord b = Tensord::randn({out}, gen).requires_grad_();
        const Tensord y = linear(x, W, b);
        Eigen::MatrixXd expected = x.matrix(22, in) * W.matrix().transpose();
        expected.rowwise() += b.matrix(1, out).row(0);
        CHECK((y.matrix(22, out) - expected).cwiseAbs().maxCoeff() < 1e-12);
        const Tensord y_without_bias = linear(x, W, Tensord());
        CHECK((y_without_bias.matrix(22, out) - x.matrix(22, in) * W.matrix().transpose()).cwiseAbs().maxCoeff() < 1e-12);
        require_gradcheck([](const std::vector<Tensord>& t) { return linear(t[0], t[1], t[2]); }, {x, W, b});
        // Used twice: the second backward of each product adds to the gradient the first one wrote.
        require_gradcheck(
            [](const std::vector<Tensord>& t) { return linear(t[0], t[1], t[2]) * 2.0 + linear(t[0], t[1], Tensord()); },
            {x, W, b});
    }
}

TEST_CASE("ops::linear: shape errors throw") {
    const Tensord x = Tensord::zeros({2, 3});
    CHECK_THROWS_AS(linear(x, Tensord::zeros({4, 5})), Error);            // in_features mismatch
    CHECK_THROWS_AS(linear(x, Tensord::zeros({4, 3, 1})), Error);         // weight not 2-d
    CHECK_THROWS_AS(linear(x, Tensord::zeros({4, 3}), Tensord::zeros({3})), Error);  // bias mismatch
    CHECK_THROWS_AS(linear(Tensord::scalar(1.0), Tensord::zeros({1, 1})), Error);  // 0-d input
    try {
        linear(x, Tensord::zeros({4, 5}));
        FAIL("expected an error");
    } catch (const Error& e) {
        const std::string message = e.what();
        CHECK(message.find("(2,3)") != std::string::npos);
        CHECK(message.find("(4,5)") != std::string::npos);
    }
}

TEST_CASE("ops::cat_rows: stacks along the first dimension") {
    const Tensord a = Tensord::from_data({1, 3}, {1, 2, 3});
    const Tensord b = Tensord::from_data({2, 3}, {4, 5, 6, 7, 8, 9});
    const Tensord c = cat_rows(std::vector<Tensord>{a, b, a});
    REQUIRE(c.shape() == Shape{4, 3});
    CHECK(c.to_vector() == std::vector<double>{1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3});

    const Tensord d = cat_rows(std::vector<Tensord>{Tensord::ones({2, 2, 2}), Tensord::zeros({1, 2, 2})});
    CHECK(d.shape() == Shape{3, 2, 2});
    CHECK(d(2, 1, 1) == 0.0);
    CHECK(d(1, 1, 1) == 1.0);
}

TEST_CASE("ops::cat_rows: gradients go back to each part, also to a part used twice") {
    Tensord a = Tensord::from_data({1, 2}, {1, 2}).requires_grad_();
    Tensord b = Tensord::from_data({2, 2}, {3, 4, 5, 6}).requires_grad_();
    const Tensord w = Tensord::from_data({4, 2}, {1, 2, 3, 4, 5, 6, 7, 8});
    sum(cat_rows(std::vector<Tensord>{a, b, a}) * w).backward();
    CHECK(a.grad().to_vector() == std::vector<double>{1 + 7, 2 + 8});
    CHECK(b.grad().to_vector() == std::vector<double>{3, 4, 5, 6});

    Generator gen(4);
    Tensord p = Tensord::randn({2, 3}, gen).requires_grad_();
    Tensord q = Tensord::randn({3, 3}, gen).requires_grad_();
    const Tensord r = Tensord::randn({1, 3}, gen);  // no grad
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>& in) { return cat_rows(std::vector<Tensord>{in[0], r, in[1], in[0]}); }, {p, q});
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("ops::cat_rows: errors") {
    CHECK_THROWS_AS(cat_rows(std::vector<Tensord>{}), Error);
    CHECK_THROWS_AS(cat_rows(std::vector<Tensord>{Tensord::zeros({2, 3}), Tensord::zeros({2, 4})}), Error);
    CHECK_THROWS_AS(cat_rows(std::vector<Tensord>{Tensord::zeros({2, 3}), Tensord::zeros({6})}), Error);
    CHECK_THROWS_AS(cat_rows(std::vector<Tensord>{Tensord::scalar(1.0)}), Error);
}
