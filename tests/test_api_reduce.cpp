// Tests for sum and mean over any dimension of ops/reduce.hpp (negative dimensions and keepdim too).

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

TEST_CASE_TEMPLATE("ops::reduce: sum and mean over each dimension of a (2, 3, 4) tensor, by hand", T, float, double) {
    const Tensor<T> x = iota<T>({2, 3, 4});  // x[i][j][k] = 1 + 12 i + 4 j + k
    // dim 0: x[0][j][k] + x[1][j][k] = 14 + 8 j + 2 k
    check_values(sum(x, 0), {3, 4}, {14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36});
    check_values(mean(x, -3, true), {1, 3, 4}, {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18});
    // dim 1: sum over j of (1 + 12 i + 4 j + k) = 3 + 36 i + 12 + 3 k = 15 + 36 i + 3 k
    check_values(sum(x, 1), {2, 4}, {15, 18, 21, 24, 51, 54, 57, 60});
    check_values(sum(x, -2, true), {2, 1, 4}, {15, 18, 21, 24, 51, 54, 57, 60});
    check_values(mean(x, 1), {2, 4}, {5, 6, 7, 8, 17, 18, 19, 20});
    // dim 2: sum over k = 4 + 48 i + 16 j + 6 = 10 + 48 i + 16 j
    check_values(sum(x, 2), {2, 3}, {10, 26, 42, 58, 74, 90});
    check_values(mean(x, -1, true), {2, 3, 1}, {2.5, 6.5, 10.5, 14.5, 18.5, 22.5});
}

TEST_CASE("ops::reduce: sum over every dimension of a 4-d tensor matches a plain loop") {
    const Tensord x = param({2, 3, 1, 5}, 11).detach();
    const Shape shape = x.shape();
    for (int d = 0; d < 4; ++d) {
        CAPTURE(d);
        Shape out_shape = shape;
        out_shape[static_cast<std::size_t>(d)] = 1;
        std::vector<double> expected(static_cast<std::size_t>(numel(out_shape)), 0.0);
        // Walk every element by its 4 indices; its output position has index 0 in dimension d.
        std::int64_t flat = 0;
        for (std::int64_t a = 0; a < shape[0]; ++a)
            for (std::int64_t b = 0; b < shape[1]; ++b)
                for (std::int64_t c = 0; c < shape[2]; ++c)
                    for (std::int64_t e = 0; e < shape[3]; ++e, ++flat) {
                        std::int64_t idx[4] = {a, b, c, e};
                        idx[d] = 0;
                        const std::int64_t o = ((idx[0] * out_shape[1] + idx[1]) * out_shape[2] + idx[2]) * out_shape[3] + idx[3];
                        expected[static_cast<std::size_t>(o)] += x.data()[flat];
                    }
        check_values(sum(x, d, true), out_shape, expected);
        std::vector<double> means = expected;
        for (double& m : means) m /= static_cast<double>(shape[static_cast<std::size_t>(d)]);
        Shape squeezed = shape;
        squeezed.erase(squeezed.begin() + d);
        check_values(mean(x, d - 4), squeezed, means);
    }
}

TEST_CASE("ops::reduce: empty dimensions reduce as in PyTorch") {
    check_values(sum(Tensord::zeros({2, 0, 3}), 1), {2, 3}, {0, 0, 0, 0, 0, 0});
    const Tensord m = mean(Tensord::zeros({2, 0, 3}), 1);
    CHECK(m.shape() == Shape{2, 3});
    CHECK(std::isnan(m.data()[0]));
    check_values(sum(Tensord::zeros({0, 3}), 1, true), {0, 1}, {});
}

TEST_CASE("ops::reduce: gradcheck sum and mean over each dimension of a 3-d tensor, keepdim on and off") {
    for (bool keepdim : {false, true}) {
        for (std::int64_t dim : {0, 1, 2, -1, -2, -3}) {
            CAPTURE(keepdim);
            CAPTURE(dim);
            check_gradcheck([=](const std::vector<Tensord>& in) { return sum(in[0], dim, keepdim); },
                            {param({2, 3, 4}, 20 + static_cast<std::uint64_t>(dim + 3))});
            check_gradcheck([=](const std::vector<Tensord>& in) { return mean(in[0], dim, keepdim); },
                            {param({2, 3, 4}, 30 + static_cast<std::uint64_t>(dim + 3))});
            // A non-uniform upstream gradient: each output weighted differently.
            check_gradcheck([=](const std::vector<Tensord>& in) { return mean(in[0], dim, keepdim) * in[1]; },
                            {param({2, 3, 4}, 40), param(keepdim ? Shape{1, 1, 1} : Shape{1}, 41)});
            check_gradcheck([=](const std::vector<Tensord>& in) { return sum(in[0] * in[0], dim, keepdim); },
                            {param({2, 3, 4}, 50 + static_cast<std::uint64_t>(dim + 3))});
        }
    }
}

TEST_CASE("ops::reduce: hand-computed gradient over the first dimension") {
    Tensord x = iota<double>({2, 3});
    x.requires_grad_();
    // L = sum(mean(x, 0) * [1, 2, 3]): column c gets weight w_c / 2 in both rows
    sum(mean(x, 0) * Tensord::from_data({3}, {1, 2, 3})).backward();
    check_values(x.grad(), {2, 3}, {0.5, 1, 1.5, 0.5, 1, 1.5});
    x.zero_grad();
    sum(sum(x, -2, true) * Tensord::from_data({1, 3}, {3, -1, 2})).backward();
    check_values(x.grad(), {2, 3}, {3, -1, 2, 3, -1, 2});
}

TEST_CASE("ops::reduce: a dimension out of range is an error naming it") {
    const Tensorf x = Tensorf::zeros({2, 3});
    CHECK_THROWS_WITH_AS(sum(x, 2), "sum: dimension 2 is out of range for a 2-d tensor", Error);
    CHECK_THROWS_WITH_AS(mean(x, -3, true), "mean: dimension -3 is out of range for a 2-d tensor", Error);
    CHECK_THROWS_WITH_AS(mean(Tensorf::scalar(1), 0), "mean: cannot reduce a dimension of a 0-d tensor", Error);
}
