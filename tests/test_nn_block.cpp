// Tests for nn/block.hpp: the Pre-LN block x + sa(ln1(x)), then x + ffwd(ln2(x)): names in the
// reference's order, values against the composition, mode propagation and gradcheck.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/nn/block.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

TEST_CASE("nn::Block: parameter names and shapes follow the reference Block (sa, ffwd, ln1, ln2)") {
    Generator gen(1);
    nn::Block<float> block(8, 2, 5, 0.0, gen);
    std::vector<std::string> names;
    std::vector<Shape> shapes;
    for (const auto& [name, p] : block.named_parameters()) {
        names.push_back(name);
        shapes.push_back(p.shape());
    }
    const std::vector<std::string> expected{
        "sa.heads.0.key.weight", "sa.heads.0.query.weight", "sa.heads.0.value.weight",
        "sa.heads.1.key.weight", "sa.heads.1.query.weight", "sa.heads.1.value.weight",
        "sa.proj.weight",        "sa.proj.bias",
        "ffwd.net.0.weight",     "ffwd.net.0.bias",         "ffwd.net.2.weight",      "ffwd.net.2.bias",
        "ln1.weight",            "ln1.bias",                "ln2.weight",             "ln2.bias"};
    CHECK(names == expected);
    const std::vector<Shape> expected_shapes{{4, 8}, {4, 8}, {4, 8}, {4, 8}, {4, 8},  {4, 8}, {8, 8}, {8},
                                             {32, 8}, {32}, {8, 32}, {8},   {8},    {8},    {8},    {8}};
    CHECK(shapes == expected_shapes);
    std::vector<std::string> buffers;
    for (const auto& [name, b] : block.named_buffers()) buffers.push_back(name);
    CHECK(buffers == std::vector<std::string>{"sa.heads.0.tril", "sa.heads.1.tril"});
}

TEST_CASE("nn::Block: forward is the Pre-LN residual composition") {
    Generator gen(2);
    nn::Block<double> block(8, 4, 6, 0.0, gen);
    const Tensord x = Tensord::randn({2, 5, 8}, gen);
    const Tensord y = block.forward(x);
    const Tensord h = x + block.sa.forward(block.ln1->forward(x));
    const Tensord expected = h + block.ffwd.forward(block.ln2->forward(h));
    REQUIRE(y.shape() == Shape{2, 5, 8});
    for (std::int64_t i = 0; i < y.numel(); ++i) CHECK(y.data()[i] == doctest::Approx(expected.data()[i]).epsilon(1e-14));
}

TEST_CASE("nn::Block: gradcheck, dropout 0, T < block_size") {
    Generator gen(3);
    nn::Block<double> block(4, 2, 5, 0.0, gen);
    // Non-trivial LayerNorm parameters, so their gradients are checked away from the 1/0 start.
    block.ln1->weight.copy_(Tensord::randn({4}, gen, 1.0, 0.3));
    block.ln2->bias.copy_(Tensord::randn({4}, gen, 0.0, 0.3));
    Tensord x = Tensord::randn({2, 3, 4}, gen).requires_grad_();
    const GradcheckResult result =
        gradcheck([&](const std::vector<Tensord>&) { return block.forward(x); }, with_parameters(x, block));
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("nn::Block: gradcheck with dropout in training, the generator re-seeded per call") {
    Generator gen(4);
    nn::Block<double> block(4, 2, 4, 0.2, gen);
    Tensord x = Tensord::randn({1, 4, 4}, gen).requires_grad_();
    const GradcheckResult result = gradcheck(
        [&](const std::vector<Tensord>&) {
            gen.seed(17);
            return block.forward(x);
        },
        with_parameters(x, block));
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("nn::Block: eval() reaches attention, feed-forward and the norms") {
    Generator g1(5), g2(5);
    nn::Block<double> with_dropout(8, 2, 4, 0.3, g1);
    nn::Block<double> without(8, 2, 4, 0.0, g2);
    with_dropout.eval();
    CHECK_FALSE(with_dropout.sa.is_training());
    CHECK_FALSE(with_dropout.sa.heads[1]->dropout.is_training());
    CHECK_FALSE(with_dropout.sa.dropout->is_training());
    CHECK_FALSE(with_dropout.ffwd.net.is_training());
    CHECK_FALSE(with_dropout.ln1->is_training());
    CHECK_FALSE(with_dropout.ln2->is_training());
    Generator data(6);
    const Tensord x = Tensord::randn({2, 4, 8}, data);
    const Tensord a = with_dropout.forward(x), b = without.forward(x);
    for (std::int64_t i = 0; i < a.numel(); ++i) CHECK(a.data()[i] == doctest::Approx(b.data()[i]).epsilon(1e-14));
}
