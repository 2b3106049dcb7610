// Tests for mse_loss (ops/loss.hpp): values against hand-computed cases, gradients against finite
// differences in double, and its errors.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/loss.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

TEST_CASE_TEMPLATE("mse_loss: the mean of the squared differences, by hand", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({2, 2}, {0.5, 1, 2, -1});
    const Tensor<T> t = Tensor<T>::from_data({2, 2}, {0, 1, 1, 1});
    check_values(mse_loss(x, t), {}, {(0.25 + 0 + 1 + 4) / 4.0});  // 1.3125
    const Tensor<T> v = Tensor<T>::from_data({3}, {3, -2, 0.5});
    check_values(mse_loss(v, Tensor<T>::zeros({3})), {}, {(9 + 4 + 0.25) / 3.0});
    check_values(mse_loss(Tensor<T>::scalar(T(4)), Tensor<T>::scalar(T(1))), {}, {9});
    check_values(mse_loss(x, x), {}, {0});
    CHECK(std::isnan(mse_loss(Tensor<T>::zeros({0}), Tensor<T>::zeros({0})).item()));  // as in PyTorch
}

TEST_CASE("mse_loss: hand-computed gradients for the input and the target") {
    Tensord x = Tensord::from_data({3}, {1, 2, 4}).requires_grad_();
    Tensord t = Tensord::from_data({3}, {0, 3, 4}).requires_grad_();
    // loss = ((1)^2 + (-1)^2 + 0) / 3; dx = 2/3 (x - t) = (2/3, -2/3, 0); dt = -dx
    Tensord loss = mse_loss(x, t) * Tensord::scalar(3.0);  // upstream gradient 3: dx = 2 (x - t)
    loss.backward();
    check_values(x.grad(), {3}, {2, -2, 0});
    check_values(t.grad(), {3}, {-2, 2, 0});
}

TEST_CASE("mse_loss: a target that does not require grad gets no gradient") {
    Tensord x = Tensord::from_data({2}, {1, -1}).requires_grad_();
    const Tensord t = Tensord::from_data({2}, {0.5, 0.5});
    mse_loss(x, t).backward();
    check_values(x.grad(), {2}, {0.5, -1.5});  // 2/2 (x - t)
    CHECK_FALSE(t.grad().defined());
}

TEST_CASE("mse_loss: gradcheck in double for both arguments, any rank") {
    check_gradcheck([](const std::vector<Tensord>& in) { return mse_loss(in[0], in[1]); },
                    {param({2, 3, 4}, 1), param({2, 3, 4}, 2)});
    check_gradcheck([](const std::vector<Tensord>& in) { return mse_loss(in[0], in[1]); }, {param({5}, 3), param({5}, 4)});
    // The same tensor twice, and a loss that feeds further computation.
    check_gradcheck([](const std::vector<Tensord>& in) { return mse_loss(in[0] * in[0], in[0]) * in[1]; },
                    {param({3, 2}, 5), param({1}, 6)});
}

TEST_CASE("mse_loss: different shapes are an error naming both") {
    CHECK_THROWS_WITH_AS(mse_loss(Tensorf::zeros({2, 3}), Tensorf::zeros({3, 2})),
                         "mse_loss: input (2,3) and target (3,2) must have the same shape (reshape one of them to match)",
                         Error);
}
