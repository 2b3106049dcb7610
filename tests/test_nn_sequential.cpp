// Tests for nn/sequential.hpp: layers applied in order, "i.<name>" parameter names as in
// torch.nn.Sequential, mode propagation, and gradcheck through the chain.

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/activation.hpp"
#include "babygpt/nn/dropout.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/nn/sequential.hpp"

using namespace babygpt;

TEST_CASE("nn::Sequential: names its layers' parameters by index, skipping parameter-free layers") {
    Generator gen(1);
    nn::Sequential<float> net;
    CHECK(net.size() == 0);
    net.push_back(std::make_unique<nn::Linear<float>>(4, 8, true, gen));
    net.push_back(std::make_unique<nn::ReLU<float>>());
    net.push_back(std::make_unique<nn::Linear<float>>(8, 3, false, gen));
    net.push_back(std::make_unique<nn::Dropout<float>>(0.1, gen));
    CHECK(net.size() == 4);

    std::vector<std::string> names;
    std::vector<Shape> shapes;
    for (const auto& [name, p] : net.named_parameters()) {
        names.push_back(name);
        shapes.push_back(p.shape());
    }
    CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "2.weight"});
    CHECK(shapes == std::vector<Shape>{{8, 4}, {8}, {3, 8}});
    CHECK(net.parameter_count() == 8 * 4 + 8 + 3 * 8);
}

TEST_CASE("nn::Sequential: forward applies the layers in order") {
    Generator gen(2);
    nn::Sequential<double> net;
    auto& fc1 = net.push_back(std::make_unique<nn::Linear<double>>(3, 5, true, gen));
    net.push_back(std::make_unique<nn::GELU<double>>());
    auto& fc2 = net.push_back(std::make_unique<nn::Linear<double>>(5, 2, true, gen));
    // push_back returns the layer itself, and the network holds it (not a copy).
    CHECK(net.named_parameters()[0].second.data() == fc1.weight.data());

    const Tensord x = Tensord::randn({2, 4, 3}, gen);
    const Tensord y = net.forward(x);
    const Tensord expected = fc2.forward(gelu(fc1.forward(x)));
    REQUIRE(y.shape() == Shape{2, 4, 2});
    for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == expected.data()[i]);
}

TEST_CASE("nn::Sequential: an empty network is the identity") {
    nn::Sequential<double> net;
    const Tensord x = Tensord::from_data({3}, {1, 2, 3});
    CHECK(net.forward(x).to_vector() == x.to_vector());
}

TEST_CASE("nn::Sequential: train() and eval() reach the layers") {
    Generator gen(3);
    nn::Sequential<double> net;
    auto& fc = net.push_back(std::make_unique<nn::Linear<double>>(6, 6, true, gen));
    auto& drop = net.push_back(std::make_unique<nn::Dropout<double>>(0.5, gen));
    CHECK(drop.is_training());
    net.eval();
    CHECK_FALSE(net.is_training());
    CHECK_FALSE(fc.is_training());
    CHECK_FALSE(drop.is_training());

    const Tensord x = Tensord::randn({4, 6}, gen);
    const Tensord y = net.forward(x);
    const Tensord expected = fc.forward(x);  // dropout is the identity in eval mode
    for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == expected.data()[i]);

    net.train();
    CHECK(drop.is_training());
    CHECK(fc.is_training());
}

TEST_CASE("nn::Sequential: gradcheck through Linear, GELU, Linear, ReLU") {
    Generator gen(4);
    nn::Sequential<double> net;
    net.push_back(std::make_unique<nn::Linear<double>>(3, 6, true, gen));
    net.push_back(std::make_unique<nn::GELU<double>>());
    net.push_back(std::make_unique<nn::Linear<double>>(6, 4, true, gen));
    net.push_back(std::make_unique<nn::ReLU<double>>());
    Tensord x = Tensord::randn({2, 3, 3}, gen).requires_grad_();
    std::vector<Tensord> inputs{x};
    for (const Tensord& p : net.parameters()) inputs.push_back(p);
    const GradcheckResult result = gradcheck([&](const std::vector<Tensord>&) { return net.forward(x); }, inputs);
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}
