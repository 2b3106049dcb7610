// Tests for ops/elementwise.hpp: add, sub, mul, div with broadcasting, tensor-scalar arithmetic and the
// operators that spell them.

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "babygpt/ops/elementwise.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

// Random signs and magnitudes in [0.5, 2]: safe as a divisor.
Tensord signed_param(const Shape& shape, std::uint64_t seed) {
    Generator gen(seed);
    Tensord t = Tensord::rand(shape, gen, 0.5, 2.0);
    for (std::int64_t i = 0; i < t.numel(); ++i)
        if (gen.uniform() < 0.5) t.data()[i] = -t.data()[i];
    t.requires_grad_();
    return t;
}

struct NamedOp {
    const char* name;
    Tensord (*op)(const Tensord&, const Tensord&);
};

const NamedOp binary_ops[] = {
    {"add", [](const Tensord& a, const Tensord& b) { return add(a, b); }},
    {"sub", [](const Tensord& a, const Tensord& b) { return sub(a, b); }},
    {"mul", [](const Tensord& a, const Tensord& b) { return mul(a, b); }},
    {"div", [](const Tensord& a, const Tensord& b) { return div(a, b); }},
};

}  // namespace

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::elementwise: same-shape add sub mul div", T, float, double) {
    const Tensor<T> a = Tensor<T>::from_data({2, 2}, {1, 2, 3, 4});
    const Tensor<T> b = Tensor<T>::from_data({2, 2}, {0.5, -1, 2, 8});
    check_values(add(a, b), {2, 2}, {1.5, 1, 5, 12});
    check_values(sub(a, b), {2, 2}, {0.5, 3, 1, -4});
    check_values(mul(a, b), {2, 2}, {0.5, -2, 6, 32});
    check_values(div(a, b), {2, 2}, {2, -2, 1.5, 0.5});
    check_values(a + b, {2, 2}, {1.5, 1, 5, 12});
    check_values(a - b, {2, 2}, {0.5, 3, 1, -4});
    check_values(a * b, {2, 2}, {0.5, -2, 6, 32});
    check_values(a / b, {2, 2}, {2, -2, 1.5, 0.5});
    check_values(-a, {2, 2}, {-1, -2, -3, -4});
    check_values(neg(b), {2, 2}, {-0.5, 1, -2, -8});
}

TEST_CASE_TEMPLATE("ops::elementwise: broadcasting (B T C) with (C)", T, float, double) {
    const Tensor<T> x = iota<T>({2, 2, 3});  // 1..12
    const Tensor<T> c = Tensor<T>::from_data({3}, {10, 20, 30});
    const Shape s{2, 2, 3};
    check_values(x + c, s, {11, 22, 33, 14, 25, 36, 17, 28, 39, 20, 31, 42});
    check_values(c + x, s, {11, 22, 33, 14, 25, 36, 17, 28, 39, 20, 31, 42});
    check_values(x - c, s, {-9, -18, -27, -6, -15, -24, -3, -12, -21, 0, -9, -18});
    check_values(c - x, s, {9, 18, 27, 6, 15, 24, 3, 12, 21, 0, 9, 18});
    check_values(x * c, s, {10, 40, 90, 40, 100, 180, 70, 160, 270, 100, 220, 360});
    check_values(c * x, s, {10, 40, 90, 40, 100, 180, 70, 160, 270, 100, 220, 360});
    check_values(x / c, s, {0.1, 0.1, 0.1, 0.4, 0.25, 0.2, 0.7, 0.4, 0.3, 1.0, 0.55, 0.4});
    check_values(c / x, s, {10, 10, 10, 2.5, 4, 5, 10.0 / 7, 2.5, 10.0 / 3, 1, 20.0 / 11, 2.5});
}

TEST_CASE_TEMPLATE("ops::elementwise: broadcasting (B T C) with (T C)", T, float, double) {
    const Tensor<T> x = iota<T>({2, 2, 3});  // 1..12
    const Tensor<T> m = Tensor<T>::from_data({2, 3}, {2, 4, 8, -1, -2, -4});
    const Shape s{2, 2, 3};
    check_values(x + m, s, {3, 6, 11, 3, 3, 2, 9, 12, 17, 9, 9, 8});
    check_values(m + x, s, {3, 6, 11, 3, 3, 2, 9, 12, 17, 9, 9, 8});
    check_values(x - m, s, {-1, -2, -5, 5, 7, 10, 5, 4, 1, 11, 13, 16});
    check_values(m - x, s, {1, 2, 5, -5, -7, -10, -5, -4, -1, -11, -13, -16});
    check_values(x * m, s, {2, 8, 24, -4, -10, -24, 14, 32, 72, -10, -22, -48});
    check_values(m * x, s, {2, 8, 24, -4, -10, -24, 14, 32, 72, -10, -22, -48});
    check_values(x / m, s, {0.5, 0.5, 0.375, -4, -2.5, -1.5, 3.5, 2, 1.125, -10, -5.5, -3});
    check_values(m / x, s, {2, 2, 8.0 / 3, -0.25, -0.4, -2.0 / 3, 2.0 / 7, 0.5, 8.0 / 9, -0.1, -2.0 / 11, -1.0 / 3});
}

TEST_CASE_TEMPLATE("ops::elementwise: broadcasting a 0-d tensor and leading ones", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor<T> s = Tensor<T>::scalar(T(2));
    check_values(x * s, {2, 3}, {2, 4, 6, 8, 10, 12});
    check_values(s * x, {2, 3}, {2, 4, 6, 8, 10, 12});
    check_values(x - s, {2, 3}, {-1, 0, 1, 2, 3, 4});
    check_values(s - x, {2, 3}, {1, 0, -1, -2, -3, -4});
    check_values(s / x, {2, 3}, {2, 1, 2.0 / 3, 0.5, 0.4, 1.0 / 3});

    // (1, 1, C) meets (B, T, C); a one-element (1,) meets anything.
    const Tensor<T> row = Tensor<T>::from_data({1, 1, 3}, {1, 0, -1});
    const Tensor<T> y = iota<T>({2, 1, 3}, T(0));
    check_values(row + y, {2, 1, 3}, {1, 1, 1, 4, 4, 4});
    check_values(y - row, {2, 1, 3}, {-1, 1, 3, 2, 4, 6});
    check_values(y * Tensor<T>::from_data({1}, {3}), {2, 1, 3}, {0, 3, 6, 9, 12, 15});
}

TEST_CASE_TEMPLATE("ops::elementwise: equal sizes with leading ones keep the larger rank", T, float, double) {
    // As in PyTorch, (3,) op (1, 3) is (1, 3) whichever operand comes first.
    const Tensor<T> v = Tensor<T>::from_data({3}, {1, 2, 3});
    const Tensor<T> r = Tensor<T>::from_data({1, 3}, {10, 20, 30});
    check_values(v + r, {1, 3}, {11, 22, 33});
    check_values(r + v, {1, 3}, {11, 22, 33});
    check_values(v - r, {1, 3}, {-9, -18, -27});
    check_values(r / v, {1, 3}, {10, 10, 10});
    check_values(v / r, {1, 3}, {0.1, 0.1, 0.1});
}

TEST_CASE_TEMPLATE("ops::elementwise: tensor-scalar in both orders", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({3}, {1, -2, 4});
    const Shape s{3};
    check_values(x + 2, s, {3, 0, 6});
    check_values(2 + x, s, {3, 0, 6});
    check_values(x - 2, s, {-1, -4, 2});
    check_values(2 - x, s, {1, 4, -2});
    check_values(x * 3, s, {3, -6, 12});
    check_values(3 * x, s, {3, -6, 12});
    check_values(x / 2, s, {0.5, -1, 2});
    check_values(2 / x, s, {2, -1, 0.5});
    check_values(add_scalar(x, T(0.5)), s, {1.5, -1.5, 4.5});
    check_values(mul_scalar(x, T(-1)), s, {-1, 2, -4});
    check_values(rdiv_scalar(T(4), x), s, {4, -2, 1});
}

TEST_CASE_TEMPLATE("ops::elementwise: scalars of any arithmetic type", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({3}, {1, -2, 4});
    const Shape s{3};
    check_values(x + 1.5, s, {2.5, -0.5, 5.5});
    check_values(x * 0.5f, s, {0.5, -1, 2});
    check_values(x - 1L, s, {0, -3, 3});
    check_values(x - 1u, s, {0, -3, 3});
    check_values(x - std::size_t(2), s, {-1, -4, 2});
    check_values(x + std::int64_t(-1), s, {0, -3, 3});
    check_values(10u - x, s, {9, 12, 6});
    check_values(x / 2u, s, {0.5, -1, 2});
    check_values(std::uint8_t(8) / x, s, {8, -4, 2});
}

// ---- errors --------------------------------------------------------------------------------------

TEST_CASE("ops::elementwise: shapes that do not broadcast throw naming the op and both shapes") {
    const Tensorf a = Tensorf::zeros({2, 3});
    const Tensorf b = Tensorf::zeros({4});
    CHECK_THROWS_WITH_AS(add(a, b),
                         "add: (2,3) + (4,): shapes do not broadcast (the smaller shape must equal the trailing "
                         "dimensions of the larger)",
                         Error);
    CHECK_THROWS_WITH_AS(a + b, doctest::Contains("add: (2,3) + (4,)"), Error);
    CHECK_THROWS_WITH_AS(b - a, doctest::Contains("sub: (4,) - (2,3): shapes do not broadcast"), Error);
    CHECK_THROWS_WITH_AS(a * Tensorf::zeros({2}), doctest::Contains("mul: (2,3) * (2,)"), Error);
    CHECK_THROWS_WITH_AS(a / Tensorf::zeros({3, 2}), doctest::Contains("div: (2,3) / (3,2)"), Error);
    CHECK_THROWS_WITH_AS(Tensorf::zeros({2, 2, 3}) + Tensorf::zeros({3, 3}),
                         doctest::Contains("add: (2,2,3) + (3,3)"), Error);
    CHECK_THROWS_AS(Tensorf::zeros({1, 3}) + Tensorf::zeros({3, 1}), Error);
}

// ---- gradients -----------------------------------------------------------------------------------

void check_binary_gradcheck(const Shape& left, const Shape& right) {
    for (const NamedOp& op : binary_ops) {
        CAPTURE(std::string(op.name));
        CAPTURE(to_string(left));
        CAPTURE(to_string(right));
        auto f = op.op;
        check_gradcheck([f](const std::vector<Tensord>& in) { return f(in[0], in[1]); },
                        {signed_param(left, 1), signed_param(right, 2)});
    }
}

TEST_CASE("ops::elementwise: gradcheck same shape") { check_binary_gradcheck({2, 3}, {2, 3}); }

TEST_CASE("ops::elementwise: gradcheck broadcasting (B T C) with (C) in both orders") {
    check_binary_gradcheck({2, 3, 4}, {4});
    check_binary_gradcheck({4}, {2, 3, 4});
}

TEST_CASE("ops::elementwise: gradcheck broadcasting (B T C) with (T C) in both orders") {
    check_binary_gradcheck({2, 3, 4}, {3, 4});
    check_binary_gradcheck({3, 4}, {2, 3, 4});
}

TEST_CASE("ops::elementwise: gradcheck broadcasting a 0-d tensor and leading ones") {
    check_binary_gradcheck({2, 3}, {});
    check_binary_gradcheck({}, {2, 3});
    check_binary_gradcheck({1, 1, 4}, {2, 3, 4});
    check_binary_gradcheck({2, 3, 4}, {1, 4});
    check_binary_gradcheck({3}, {1, 3});
}

TEST_CASE("ops::elementwise: gradcheck when only one operand requires grad") {
    for (const NamedOp& op : binary_ops) {
        CAPTURE(std::string(op.name));
        auto f = op.op;
        Generator gen(5);
        const Tensord constant = Tensord::rand({2, 3, 4}, gen, 0.5, 2.0);  // no requires_grad
        check_gradcheck([f, constant](const std::vector<Tensord>& in) { return f(constant, in[0]); },
                        {signed_param({4}, 6)});
        check_gradcheck([f, constant](const std::vector<Tensord>& in) { return f(in[0], constant); },
                        {signed_param({3, 4}, 7)});
    }
}

TEST_CASE("ops::elementwise: gradcheck tensor-scalar in both orders") {
    const Tensord x = signed_param({2, 3}, 3);
    const std::vector<std::pair<const char*, Fn>> cases = {
        {"x + 2", [](const std::vector<Tensord>& in) { return in[0] + 2.0; }},
        {"2 + x", [](const std::vector<Tensord>& in) { return 2.0 + in[0]; }},
        {"x - 2", [](const std::vector<Tensord>& in) { return in[0] - 2.0; }},
        {"2 - x", [](const std::vector<Tensord>& in) { return 2.0 - in[0]; }},
        {"x * 3", [](const std::vector<Tensord>& in) { return in[0] * 3.0; }},
        {"3 * x", [](const std::vector<Tensord>& in) { return 3.0 * in[0]; }},
        {"x / 2", [](const std::vector<Tensord>& in) { return in[0] / 2.0; }},
        {"2 / x", [](const std::vector<Tensord>& in) { return 2.0 / in[0]; }},
        {"-x", [](const std::vector<Tensord>& in) { return -in[0]; }},
    };
    for (const auto& c : cases) {
        CAPTURE(std::string(c.first));
        check_gradcheck(c.second, {x});
    }
}

TEST_CASE("ops::elementwise: gradcheck with an input used more than once") {
    const Tensord x = signed_param({2, 3}, 4);
    check_gradcheck([](const std::vector<Tensord>& in) { return in[0] * in[0] + in[0]; }, {x});
    check_gradcheck([](const std::vector<Tensord>& in) { return in[0] / in[0] - in[0] * 2.0; }, {x});
    check_gradcheck([](const std::vector<Tensord>& in) { return (in[0] - in[0] * in[0]) / (in[0] * in[0] + 1.0); },
                    {x});
    // The same tensor as the broadcast operand and inside the larger one.
    const Tensord b = signed_param({3}, 8);
    const Tensord y = signed_param({2, 3}, 9);
    check_gradcheck([](const std::vector<Tensord>& in) { return (in[1] * in[0] + in[0]) / in[0]; }, {b, y});
}

TEST_CASE("ops::elementwise: hand-computed gradients of broadcasting") {
    // L = sum(x * b) with x (2, 2, 3) = 1..12, b (3): dL/db = column sums of x, dL/dx = b repeated.
    Tensord x = iota<double>({2, 2, 3});
    Tensord b = Tensord::from_data({3}, {1, 2, 3});
    x.requires_grad_();
    b.requires_grad_();
    sum(x * b).backward();
    check_values(b.grad(), {3}, {1 + 4 + 7 + 10, 2 + 5 + 8 + 11, 3 + 6 + 9 + 12});
    check_values(x.grad(), {2, 2, 3}, {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3});

    // L = sum(b - x): dL/db = 4 each (repeat count), dL/dx = -1.
    x.zero_grad();
    b.zero_grad();
    sum(b - x).backward();
    check_values(b.grad(), {3}, {4, 4, 4});
    check_values(x.grad(), {2, 2, 3}, std::vector<double>(12, -1.0));
}
