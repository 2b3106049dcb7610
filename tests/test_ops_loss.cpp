// Tests for ops/loss.hpp: the fused cross-entropy (log-softmax + negative log-likelihood, averaged).

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "babygpt/ops/loss.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/shape_ops.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::loss: cross_entropy against torch (2-d)", T, float, double) {
    const Tensor<T> logits = Tensor<T>::from_data({3, 4}, {1.0, 2.0, 0.5, -1.0, 0.0, 0.0, 3.0, 1.0, -2.0, 1.5, 0.25, 0.75});
    const IndexTensor targets = IndexTensor::from_data({3}, {3, 0, 1});
    // torch: torch.nn.functional.cross_entropy(logits, torch.tensor([3, 0, 1]))  (float64, logits as above)
    const Tensor<T> loss = cross_entropy(logits, targets);
    CHECK(loss.shape() == Shape{});
    CHECK(double(loss.item()) == doctest::Approx(2.429291581637777).epsilon(tolerance<T>()));
}

TEST_CASE_TEMPLATE("ops::loss: cross_entropy against torch (B T V)", T, float, double) {
    // torch: x = 2*torch.sin(1.3*torch.arange(30.)+0.5).view(2,3,5); t = torch.tensor([[0,4,2],[1,1,3]])
    //        torch.nn.functional.cross_entropy(x.view(6,5), t.view(6))   (float64)
    const Tensor<T> logits = sin_seq<T>({2, 3, 5}, 1.3, 0.5, 2.0);
    const IndexTensor targets = IndexTensor::from_data({2, 3}, {0, 4, 2, 1, 1, 3});
    CHECK(double(cross_entropy(logits, targets).item()) == doctest::Approx(2.398967556987235).epsilon(tolerance<T>()));
    // The same as the flattened (N, V) call.
    CHECK(double(cross_entropy(reshape(logits, {6, 5}), reshape(targets, {6})).item()) ==
          doctest::Approx(2.398967556987235).epsilon(tolerance<T>()));
}

TEST_CASE_TEMPLATE("ops::loss: cross_entropy by hand", T, float, double) {
    // Uniform logits: the loss is log(V) whatever the targets.
    const Tensor<T> uniform = Tensor<T>::full({4, 7}, T(0.3));
    CHECK(double(cross_entropy(uniform, IndexTensor::from_data({4}, {0, 6, 3, 3})).item()) ==
          doctest::Approx(std::log(7.0)).epsilon(tolerance<T>()));
    // One row (1-d logits, 0-d target): log(e^1 + e^2 + e^3) - 3.
    const Tensor<T> row = Tensor<T>::from_data({3}, {1, 2, 3});
    CHECK(double(cross_entropy(row, IndexTensor::scalar(2)).item()) ==
          doctest::Approx(std::log(std::exp(1.0) + std::exp(2.0) + std::exp(3.0)) - 3.0).epsilon(tolerance<T>()));
    // The mean over rows: row losses log(2) (tie) and log(1 + e^-2) (right class ahead by 2).
    const Tensor<T> two = Tensor<T>::from_data({2, 2}, {5, 5, 0, 2});
    CHECK(double(cross_entropy(two, IndexTensor::from_data({2}, {0, 1})).item()) ==
          doctest::Approx((std::log(2.0) + std::log(1.0 + std::exp(-2.0))) / 2).epsilon(tolerance<T>()));
}

TEST_CASE_TEMPLATE("ops::loss: cross_entropy with large logits is finite", T, float, double) {
    const Tensor<T> logits = Tensor<T>::from_data({1, 3}, {1000, 0, -1000});
    // torch: torch.nn.functional.cross_entropy(torch.tensor([[1000., 0., -1000.]], dtype=torch.float64), torch.tensor([1]))
    CHECK(double(cross_entropy(logits, IndexTensor::from_data({1}, {1})).item()) ==
          doctest::Approx(1000.0).epsilon(tolerance<T>()));
    CHECK(double(cross_entropy(logits, IndexTensor::from_data({1}, {0})).item()) ==
          doctest::Approx(0.0).epsilon(tolerance<T>()));
}

// ---- errors --------------------------------------------------------------------------------------

TEST_CASE("ops::loss: cross_entropy target out of range") {
    const Tensorf logits = Tensorf::zeros({3, 4});
    CHECK_THROWS_WITH_AS(cross_entropy(logits, IndexTensor::from_data({3}, {0, 5, 1})),
                         "cross_entropy: target 5 is out of range for 4 classes", Error);
    CHECK_THROWS_WITH_AS(cross_entropy(logits, IndexTensor::from_data({3}, {0, 4, 1})),
                         doctest::Contains("target 4 is out of range for 4 classes"), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(logits, IndexTensor::from_data({3}, {-1, 0, 1})),
                         doctest::Contains("target -1 is out of range"), Error);
}

TEST_CASE("ops::loss: cross_entropy shape mismatch") {
    CHECK_THROWS_WITH_AS(cross_entropy(Tensorf::zeros({2, 3, 4}), IndexTensor::zeros({2, 2})),
                         "cross_entropy: logits (2,3,4) and targets (2,2): the targets must have the logits' shape "
                         "without the last (class) dimension",
                         Error);
    CHECK_THROWS_AS(cross_entropy(Tensorf::zeros({6, 4}), IndexTensor::zeros({2, 3})), Error);
    CHECK_THROWS_AS(cross_entropy(Tensorf::zeros({6, 4}), IndexTensor::zeros({6, 4})), Error);
    CHECK_THROWS_WITH_AS(cross_entropy(Tensorf::zeros({0, 4}), IndexTensor::zeros({0})),
                         doctest::Contains("cross_entropy: no rows"), Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::loss: gradcheck cross_entropy") {
    const IndexTensor t2 = IndexTensor::from_data({4}, {2, 0, 4, 2});
    check_gradcheck([t2](const std::vector<Tensord>& in) { return cross_entropy(in[0], t2); }, {param({4, 5}, 1)});
    const IndexTensor t3 = IndexTensor::from_data({2, 3}, {0, 3, 3, 1, 2, 0});
    check_gradcheck([t3](const std::vector<Tensord>& in) { return cross_entropy(in[0], t3); },
                    {param({2, 3, 4}, 2, 3.0)});
    check_gradcheck([](const std::vector<Tensord>& in) { return cross_entropy(in[0], IndexTensor::scalar(1)); },
                    {param({3}, 3)});
}

TEST_CASE("ops::loss: gradcheck cross_entropy with an input used more than once") {
    const IndexTensor t = IndexTensor::from_data({3}, {1, 0, 2});
    check_gradcheck([t](const std::vector<Tensord>& in) { return cross_entropy(in[0] * in[0] + in[0], t); },
                    {param({3, 3}, 4)});
    // A small classifier: logits = x @ w + b, with x used again in a residual.
    const IndexTensor t2 = IndexTensor::from_data({2, 2}, {0, 2, 1, 1});
    check_gradcheck(
        [t2](const std::vector<Tensord>& in) { return cross_entropy(matmul(in[0], in[1]) + in[2] + in[0], t2); },
        {param({2, 2, 3}, 5), param({3, 3}, 6), param({3}, 7)});
}

TEST_CASE("ops::loss: hand-computed gradient is (softmax - onehot) / N") {
    Tensord logits = Tensord::from_data({2, 2}, {5, 5, 0, 2});
    logits.requires_grad_();
    cross_entropy(logits, IndexTensor::from_data({2}, {0, 1})).backward();
    const double p = 1.0 / (1.0 + std::exp(2.0));  // softmax of the 0 in row [0, 2]
    const std::vector<double> expected{(0.5 - 1) / 2, 0.5 / 2, p / 2, (1 - p - 1) / 2};
    const Tensord g = logits.grad();
    for (std::size_t i = 0; i < 4; ++i) CHECK(g.data()[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}
