// Tests for nn/module.hpp: parameter and buffer registration, dotted names in registration order,
// parameter_count, train()/eval() propagation and zero_grad().

#include <doctest/doctest.h>

#include <string>
#include <utility>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/nn/module.hpp"

using namespace babygpt;

namespace {

// A leaf module with one parameter and one buffer.
class Scale : public nn::Module<double> {
public:
    explicit Scale(std::int64_t n) {
        weight = register_parameter("weight", Tensord::full({n}, 2.0));
        offset = register_buffer("offset", Tensord::full({n}, 0.5));
    }
    Tensord forward(const Tensord& x) const { return x * weight; }
    Tensord weight, offset;
};

// Two levels of nesting: own parameter first, then the children in registration order.
class Inner : public nn::Module<double> {
public:
    Inner() : a(3), b(2) {
        register_module("a", a);
        bias = register_parameter("bias", Tensord::zeros({4}));
        register_module("b", b);
    }
    Scale a, b;
    Tensord bias;
};

class Outer : public nn::Module<double> {
public:
    Outer() : first(5), inner() {
        register_module("first", first);
        register_module("inner", inner);
        gain = register_parameter("gain", Tensord::ones({1}));
    }
    Scale first;
    Inner inner;
    Tensord gain;
};

std::vector<std::string> names_of(const nn::Module<double>::NamedTensors& named) {
    std::vector<std::string> out;
    for (const auto& [name, t] : named) out.push_back(name);
    return out;
}

}  // namespace

TEST_CASE("nn::Module: named_parameters lists own parameters first, then submodules, with dotted names") {
    Outer m;
    // Like torch.nn.Module.named_parameters(): a module's own parameters, then each child's, recursively.
    const std::vector<std::string> expected{"gain", "first.weight", "inner.bias", "inner.a.weight", "inner.b.weight"};
    CHECK(names_of(m.named_parameters()) == expected);

    const auto named = m.named_parameters();
    const auto params = m.parameters();
    REQUIRE(params.size() == named.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
        CAPTURE(i);
        // The same tensors (shared storage), not copies.
        CHECK(params[i].data() == named[i].second.data());
        CHECK(params[i].requires_grad());
        CHECK(params[i].is_leaf());
    }
    CHECK(named[1].second.data() == m.first.weight.data());
    CHECK(named[3].second.data() == m.inner.a.weight.data());
}

TEST_CASE("nn::Module: buffers are named like parameters but are not trainable") {
    Outer m;
    const auto buffers = m.named_buffers();
    CHECK(names_of(buffers) == std::vector<std::string>{"first.offset", "inner.a.offset", "inner.b.offset"});
    for (const auto& [name, t] : buffers) {
        const auto& name_value = name;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(name_value);
        CHECK_FALSE(t.requires_grad());
    }
    CHECK(buffers[0].second.data() == m.first.offset.data());
    // Buffers never appear among the parameters.
    for (const auto& name : names_of(m.named_parameters())) CHECK(name.find("offset") == std::string::npos);
}

TEST_CASE("nn::Module: parameter_count adds up every parameter's elements") {
    Outer m;
    CHECK(m.parameter_count() == 1 + 5 + 4 + 3 + 2);
    Scale s(7);
    CHECK(s.parameter_count() == 7);
    nn::Module<double> empty;
    CHECK(empty.parameter_count() == 0);
    CHECK(empty.named_parameters().empty());
    CHECK(empty.named_buffers().empty());
}

TEST_CASE("nn::Module: train() and eval() reach every submodule") {
    Outer m;
    CHECK(m.is_training());  // modules start in training mode, as in PyTorch
    CHECK(m.inner.b.is_training());

    m.eval();
    for (const nn::Module<double>* mod :
         std::vector<const nn::Module<double>*>{&m, &m.first, &m.inner, &m.inner.a, &m.inner.b})
        CHECK_FALSE(mod->is_training());

    m.train();
    for (const nn::Module<double>* mod :
         std::vector<const nn::Module<double>*>{&m, &m.first, &m.inner, &m.inner.a, &m.inner.b})
        CHECK(mod->is_training());

    m.train(false);
    CHECK_FALSE(m.inner.a.is_training());

    // Switching a subtree leaves the parent alone.
    m.inner.train(true);
    CHECK_FALSE(m.is_training());
    CHECK_FALSE(m.first.is_training());
    CHECK(m.inner.is_training());
    CHECK(m.inner.b.is_training());
}

TEST_CASE("nn::Module: zero_grad clears the gradient of every parameter") {
    Outer m;
    const Tensord x = Tensord::full({3}, 1.5);
    Tensord loss = sum(m.inner.a.forward(x)) + sum(m.first.weight * m.first.weight) + sum(m.gain) +
                   sum(m.inner.bias) + sum(m.inner.b.weight);
    loss.backward();
    for (const auto& [name, p] : m.named_parameters()) {
        const auto& name_value = name;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(name_value);
        CHECK(p.grad().defined());
    }
    CHECK(m.inner.a.weight.grad()(0) == doctest::Approx(1.5));
    CHECK(m.first.weight.grad()(0) == doctest::Approx(4.0));

    m.zero_grad();
    for (const auto& [name, p] : m.named_parameters()) {
        const auto& name_value = name;  // C++17 lambdas (inside CAPTURE) cannot capture a structured binding
        CAPTURE(name_value);
        CHECK_FALSE(p.grad().defined());
    }
    // Values are untouched by zero_grad.
    CHECK(m.first.weight(0) == 2.0);
}

TEST_CASE("nn::Module: a library layer nested in a user module gets prefixed names") {
    class Net : public nn::Module<double> {
    public:
        Net() : gen(3), fc(4, 2, true, gen) { register_module("fc", fc); }
        Generator gen;
        nn::Linear<double> fc;
    };
    Net net;
    CHECK(names_of(net.named_parameters()) == std::vector<std::string>{"fc.weight", "fc.bias"});
    CHECK(net.parameter_count() == 4 * 2 + 2);
}
