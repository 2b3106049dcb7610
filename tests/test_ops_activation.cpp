// Tests for ops/activation.hpp: relu, gelu, tanh, exp, log, sqrt.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "babygpt/ops/activation.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

// Normal samples pushed at least 0.05 away from 0, so relu is never evaluated at its kink.
Tensord away_from_zero(const Shape& shape, std::uint64_t seed) {
    Generator gen(seed);
    Tensord t = Tensord::randn(shape, gen);
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        double& v = t.data()[i];
        if (std::abs(v) < 0.05) v = v < 0 ? v - 0.05 : v + 0.05;
    }
    t.requires_grad_();
    return t;
}

Tensord positive(const Shape& shape, std::uint64_t seed) {
    Generator gen(seed);
    Tensord t = Tensord::rand(shape, gen, 0.2, 3.0);
    t.requires_grad_();
    return t;
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------------

// torch: x = torch.tensor([-2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 3.0], dtype=torch.float64)

TEST_CASE_TEMPLATE("ops::activation: relu forward", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({7}, {-2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 3.0});
    check_values(relu(x), {7}, {0, 0, 0, 0.2, 0.7, 1.5, 3.0});
    const Tensor<T> m = Tensor<T>::from_data({2, 2}, {-1, 2, 0, -0.5});
    check_values(relu(m), {2, 2}, {0, 2, 0, 0});
}

TEST_CASE_TEMPLATE("ops::activation: gelu forward (exact erf form)", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({7}, {-2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 3.0});
    // torch: torch.nn.functional.gelu(x)
    check_values(gelu(x), {7},
                 {-0.015524163314440398, -0.15865525393145702, -0.1146265733433142, 0.11585194188782061,
                  0.5306254434438489, 1.399789198096713, 2.99595030590511});
    check_values(gelu(Tensor<T>::zeros({1})), {1}, {0.0});
}

TEST_CASE_TEMPLATE("ops::activation: tanh forward", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({7}, {-2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 3.0});
    // torch: torch.tanh(x)
    check_values(babygpt::tanh(x), {7},
                 {-0.9866142981514303, -0.7615941559557649, -0.2913126124515909, 0.197375320224904,
                  0.6043677771171635, 0.9051482536448664, 0.9950547536867305});
}

TEST_CASE_TEMPLATE("ops::activation: exp forward", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({7}, {-2.5, -1.0, -0.3, 0.2, 0.7, 1.5, 3.0});
    // torch: torch.exp(x)
    check_values(babygpt::exp(x), {7},
                 {0.0820849986238988, 0.36787944117144233, 0.7408182206817179, 1.2214027581601699,
                  2.0137527074704766, 4.4816890703380645, 20.085536923187668});
}

TEST_CASE_TEMPLATE("ops::activation: log forward", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({5}, {0.1, 0.5, 1.0, 2.0, 10.0});
    // torch: torch.log(torch.tensor([0.1, 0.5, 1.0, 2.0, 10.0], dtype=torch.float64))
    check_values(babygpt::log(x), {5},
                 {-2.3025850929940455, -0.6931471805599453, 0.0, 0.6931471805599453, 2.302585092994046});
    // As in PyTorch: log(0) = -inf, log(-1) = nan.
    const Tensor<T> edge = babygpt::log(Tensor<T>::from_data({2}, {0, -1}));
    CHECK(edge.data()[0] == -std::numeric_limits<T>::infinity());
    CHECK(std::isnan(edge.data()[1]));
}

TEST_CASE_TEMPLATE("ops::activation: sqrt forward", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({5}, {0.0, 0.25, 2.0, 9.0, 1e-6});
    // torch: torch.sqrt(torch.tensor([0.0, 0.25, 2.0, 9.0, 1e-6], dtype=torch.float64))
    check_values(babygpt::sqrt(x), {5}, {0.0, 0.5, 1.4142135623730951, 3.0, 0.001});
    CHECK(std::isnan(babygpt::sqrt(Tensor<T>::from_data({1}, {-1})).data()[0]));  // as in PyTorch
}

TEST_CASE_TEMPLATE("ops::activation: shapes are kept", T, float, double) {
    const Tensor<T> x = Tensor<T>::ones({2, 3, 4, 5});
    CHECK(relu(x).shape() == x.shape());
    CHECK(gelu(x).shape() == x.shape());
    CHECK(babygpt::tanh(x).shape() == x.shape());
    CHECK(babygpt::exp(x).shape() == x.shape());
    CHECK(babygpt::log(x).shape() == x.shape());
    CHECK(babygpt::sqrt(x).shape() == x.shape());
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::activation: gradcheck relu") {
    check_gradcheck([](const std::vector<Tensord>& in) { return relu(in[0]); }, {away_from_zero({3, 4}, 1)});
}

TEST_CASE("ops::activation: relu gradient at 0 is 0") {
    Tensord x = Tensord::from_data({3}, {-1.0, 0.0, 2.0});
    x.requires_grad_();
    sum(relu(x)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0.0, 0.0, 1.0});
}

TEST_CASE("ops::activation: gradcheck gelu") {
    check_gradcheck([](const std::vector<Tensord>& in) { return gelu(in[0]); }, {away_from_zero({2, 3, 4}, 2)});
}

TEST_CASE("ops::activation: gradcheck tanh") {
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::tanh(in[0]); },
                    {away_from_zero({2, 3, 4}, 3)});
}

TEST_CASE("ops::activation: gradcheck exp") {
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::exp(in[0]); },
                    {away_from_zero({3, 4}, 4)});
}

TEST_CASE("ops::activation: gradcheck log") {
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::log(in[0]); }, {positive({3, 4}, 5)});
}

TEST_CASE("ops::activation: gradcheck sqrt") {
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::sqrt(in[0]); }, {positive({3, 4}, 8)});
    // d sqrt(x)/dx = 1 / (2 sqrt(x)): at x = 4, 1/4.
    Tensord x = Tensord::from_data({1}, {4.0});
    x.requires_grad_();
    sum(babygpt::sqrt(x)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0.25});
}

TEST_CASE("ops::activation: gradcheck with an input used more than once") {
    const Tensord x = away_from_zero({2, 5}, 6);
    check_gradcheck([](const std::vector<Tensord>& in) { return relu(in[0]) * in[0] + in[0]; }, {x});
    check_gradcheck([](const std::vector<Tensord>& in) { return gelu(in[0]) * babygpt::tanh(in[0]); }, {x});
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::exp(babygpt::tanh(in[0])) - in[0]; }, {x});
    const Tensord p = positive({2, 5}, 7);
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::log(in[0] * in[0] + in[0]); }, {p});
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::log(babygpt::exp(in[0])) * in[0]; }, {p});
    check_gradcheck([](const std::vector<Tensord>& in) { return babygpt::sqrt(in[0] * in[0] + in[0]) * in[0]; }, {p});
}

TEST_CASE("ops::activation: hand-computed gradients") {
    // d tanh = 1 - tanh^2, d exp = exp, d log = 1 / x, d gelu(0) = 0.5
    Tensord x = Tensord::from_data({2}, {0.5, 2.0});
    x.requires_grad_();
    sum(babygpt::tanh(x)).backward();
    CHECK(x.grad().data()[0] == doctest::Approx(1 - std::tanh(0.5) * std::tanh(0.5)).epsilon(1e-12));
    x.zero_grad();
    sum(babygpt::exp(x)).backward();
    CHECK(x.grad().data()[1] == doctest::Approx(std::exp(2.0)).epsilon(1e-12));
    x.zero_grad();
    sum(babygpt::log(x)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{2.0, 0.5});

    Tensord z = Tensord::zeros({1});
    z.requires_grad_();
    sum(gelu(z)).backward();
    CHECK(z.grad().item() == doctest::Approx(0.5).epsilon(1e-12));
}
