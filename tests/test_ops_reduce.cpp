// Tests for ops/reduce.hpp: sum and mean of all elements and over the last dimension.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "babygpt/ops/reduce.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::reduce: sum and mean of all elements", T, float, double) {
    const Tensor<T> x = iota<T>({2, 3});  // 1..6
    check_values(sum(x), {}, {21});
    check_values(mean(x), {}, {3.5});
    const Tensor<T> y = Tensor<T>::from_data({2, 2, 2}, {0.5, -1, 2, 4, -3, 1.5, 0, 8});
    check_values(sum(y), {}, {12});
    check_values(mean(y), {}, {1.5});
    check_values(sum(Tensor<T>::scalar(T(7))), {}, {7});
    check_values(sum(Tensor<T>::zeros({0})), {}, {0});
    CHECK(std::isnan(mean(Tensor<T>::zeros({0})).item()));  // as in PyTorch
}

TEST_CASE_TEMPLATE("ops::reduce: sum and mean over the last dimension", T, float, double) {
    const Tensor<T> x = iota<T>({2, 3});  // 1..6
    check_values(sum(x, -1), {2}, {6, 15});
    check_values(sum(x, 1), {2}, {6, 15});
    check_values(sum(x, -1, true), {2, 1}, {6, 15});
    check_values(mean(x, -1), {2}, {2, 5});
    check_values(mean(x, 1, true), {2, 1}, {2, 5});

    const Tensor<T> b = iota<T>({2, 2, 3});  // 1..12
    check_values(sum(b, -1), {2, 2}, {6, 15, 24, 33});
    check_values(sum(b, 2, true), {2, 2, 1}, {6, 15, 24, 33});
    check_values(mean(b, -1), {2, 2}, {2, 5, 8, 11});
    check_values(mean(b, -1, true), {2, 2, 1}, {2, 5, 8, 11});

    const Tensor<T> v = Tensor<T>::from_data({4}, {1, 2, 3, 4.5});
    check_values(sum(v, -1), {}, {10.5});
    check_values(sum(v, 0, true), {1}, {10.5});
    check_values(mean(v, 0), {}, {2.625});

    const Tensor<T> q = iota<T>({1, 2, 1, 2});
    check_values(sum(q, -1), {1, 2, 1}, {3, 7});

    check_values(sum(Tensor<T>::zeros({3, 0}), -1), {3}, {0, 0, 0});
}

TEST_CASE("ops::reduce: a dimension out of range or of a 0-d tensor is an error") {
    const Tensorf x = Tensorf::zeros({2, 3});
    CHECK_THROWS_WITH_AS(mean(x, 5), "mean: dimension 5 is out of range for a 2-d tensor", Error);
    CHECK_THROWS_WITH_AS(sum(Tensorf::scalar(1), -1), "sum: cannot reduce a dimension of a 0-d tensor", Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::reduce: gradcheck sum and mean of all elements") {
    check_gradcheck([](const std::vector<Tensord>& in) { return sum(in[0]); }, {param({2, 3, 4}, 1)});
    check_gradcheck([](const std::vector<Tensord>& in) { return mean(in[0]); }, {param({2, 3, 4}, 2)});
    check_gradcheck([](const std::vector<Tensord>& in) { return mean(in[0]); }, {param({2, 2, 3, 2}, 3)});
}

TEST_CASE("ops::reduce: gradcheck over the last dimension with and without keepdim") {
    for (bool keepdim : {false, true}) {
        CAPTURE(keepdim);
        check_gradcheck([keepdim](const std::vector<Tensord>& in) { return sum(in[0], -1, keepdim); },
                        {param({2, 3, 4}, 4)});
        check_gradcheck([keepdim](const std::vector<Tensord>& in) { return mean(in[0], -1, keepdim); },
                        {param({2, 3, 4}, 5)});
        check_gradcheck([keepdim](const std::vector<Tensord>& in) { return mean(in[0], 3, keepdim); },
                        {param({2, 2, 3, 2}, 6)});
        check_gradcheck([keepdim](const std::vector<Tensord>& in) { return sum(in[0], 0, keepdim); },
                        {param({5}, 7)});
    }
}

TEST_CASE("ops::reduce: gradcheck with an input used more than once") {
    check_gradcheck([](const std::vector<Tensord>& in) { return in[0] * mean(in[0]) + in[0]; }, {param({2, 3}, 8)});
    check_gradcheck([](const std::vector<Tensord>& in) { return sum(in[0] * in[0], -1) + mean(in[0], -1); },
                    {param({2, 3, 4}, 9)});
    // Centering a row: x - mean(x) of a 1-d row, with the (0-d) mean broadcast back.
    check_gradcheck([](const std::vector<Tensord>& in) { return in[0] - mean(in[0], -1); }, {param({4}, 10)});
}

TEST_CASE("ops::reduce: hand-computed gradients") {
    Tensord x = iota<double>({2, 3});
    x.requires_grad_();
    mean(x).backward();
    check_values(x.grad(), {2, 3}, std::vector<double>(6, 1.0 / 6));
    x.zero_grad();
    // L = sum(mean(x, -1) * [1, 2]): row r gets weight w_r / 3
    sum(mean(x, -1) * Tensord::from_data({2}, {1, 2})).backward();
    check_values(x.grad(), {2, 3}, {1.0 / 3, 1.0 / 3, 1.0 / 3, 2.0 / 3, 2.0 / 3, 2.0 / 3});
    x.zero_grad();
    sum(sum(x, -1, true) * Tensord::from_data({2, 1}, {3, -1})).backward();
    check_values(x.grad(), {2, 3}, {3, 3, 3, -1, -1, -1});
}
