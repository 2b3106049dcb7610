// Tests for nn/activation.hpp: the ReLU and GELU layers (values against PyTorch, gradcheck).

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/activation.hpp"

using namespace babygpt;

namespace {

const std::vector<double> kInputs{-3.0, -1.0, -0.5, 0.5, 1.0, 3.0};

}  // namespace

TEST_CASE("nn::ReLU: values, no parameters") {
    nn::ReLU<double> relu_layer;
    CHECK(relu_layer.named_parameters().empty());
    const Tensord y = relu_layer.forward(Tensord::from_data({6}, kInputs));
    // torch.nn.functional.relu
    CHECK(y.to_vector() == std::vector<double>{0.0, 0.0, 0.0, 0.5, 1.0, 3.0});
}

TEST_CASE("nn::GELU: exact (erf) GELU values as PyTorch's default") {
    nn::GELU<double> gelu_layer;
    CHECK(gelu_layer.named_parameters().empty());
    const Tensord y = gelu_layer.forward(Tensord::from_data({2, 3}, kInputs));
    REQUIRE(y.shape() == Shape{2, 3});
    // torch.nn.functional.gelu(x) (approximate='none') in float64
    const std::vector<double> expected{-0.00404969409489031, -0.15865525393145702, -0.15426876936299344,
                                       0.34573123063700656,  0.841344746068543,    2.99595030590511};
    for (std::size_t i = 0; i < expected.size(); ++i) CHECK(y.data()[i] == doctest::Approx(expected[i]).epsilon(1e-12));
}

TEST_CASE("nn::ReLU and nn::GELU: gradcheck (inputs away from the kink)") {
    Generator gen(1);
    Tensord x = Tensord::randn({3, 4}, gen);
    for (std::int64_t i = 0; i < x.numel(); ++i)
        if (std::abs(x.data()[i]) < 0.05) x.data()[i] += 0.2;  // stay clear of relu's kink at 0
    x.requires_grad_();
    nn::ReLU<double> relu_layer;
    nn::GELU<double> gelu_layer;
    for (int which = 0; which < 2; ++which) {
        CAPTURE(which);
        const GradcheckResult result = gradcheck(
            [&](const std::vector<Tensord>&) { return which == 0 ? relu_layer.forward(x) : gelu_layer.forward(x); },
            {x});
        CHECK_MESSAGE(result.ok, result.message);
        CHECK(result.max_abs_error < 1e-6);
    }
}

TEST_CASE("nn::ReLU: gradient is 1 for positive inputs and 0 otherwise") {
    Tensord x = Tensord::from_data({6}, kInputs).requires_grad_();
    nn::ReLU<double> relu_layer;
    sum(relu_layer.forward(x)).backward();
    CHECK(x.grad().to_vector() == std::vector<double>{0, 0, 0, 1, 1, 1});
}
