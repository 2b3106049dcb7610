// Tests for activation_checkpoint.hpp: the same values and gradients as the plain function, what stays
// between forward and backward, the dropout stream, the guards, and GPT::activation_checkpointing.

#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "babygpt/activation_checkpoint.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/reduce.hpp"

#include "gpt_helpers.hpp"
#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

/// The gradients of `params` after loss.backward(), copied; the gradients are cleared afterwards.
std::vector<Tensord> gradients_after(const Tensord& loss, const std::vector<Tensord>& params) {
    loss.backward();
    std::vector<Tensord> grads;
    for (const Tensord& p : params) {
        grads.push_back(p.grad().clone());
        p.zero_grad();
    }
    return grads;
}

}  // namespace

TEST_CASE("activation_checkpoint: gradcheck of a function with a parameter, and the same loss as without") {
    const Tensord x = param({3, 4}, 41);
    const Tensord w = param({4, 5}, 42);
    const auto fn = [&w](const Tensord& h) { return relu(matmul(h, w)) * matmul(h, w); };  // (3, 4) -> (3, 5)
    const Tensord plain = sum(fn(x));
    const Tensord checkpointed = sum(activation_checkpoint(x, {w}, nullptr, fn));
    CHECK(checkpointed.item() == plain.item());
    require_gradcheck([&](const std::vector<Tensord>&) { return sum(activation_checkpoint(x, {w}, nullptr, fn)); },
                      {x, w});
}

TEST_CASE("activation_checkpoint: fn's intermediates are gone after the forward pass, and come back in backward") {
    const Tensord x = param({6}, 43);
    Tensord a_seen;  // a handle to fn's intermediate that does not keep its values
    int calls = 0;
    const auto fn = [&](const Tensord& h) {
        ++calls;
        const Tensord a = h * 2.0;
        a_seen = a.gradient_only();
        return a * a;  // mul's backward reads both operands: in a graph, a stays until backward
    };
    SUBCASE("plain: the graph keeps the intermediate") {
        const Tensord y = fn(x);
        CHECK(a_seen.impl().data);
    }
    SUBCASE("checkpointed: only x stays; backward recomputes, d/dx (2x)^2 = 8x") {
        const Tensord y = activation_checkpoint(x, {}, nullptr, fn);
        CHECK_FALSE(a_seen.impl().data);
        CHECK(calls == 1);
        sum(y).backward();
        CHECK(calls == 2);
        for (std::int64_t i = 0; i < x.numel(); ++i)
            CHECK(x.grad_data()[i] == doctest::Approx(8.0 * x.data()[i]).epsilon(1e-15));
    }
}

TEST_CASE("activation_checkpoint: dropout draws the same masks again, and the stream goes on as without it") {
    const Tensord x = param({4, 6}, 44);
    const Tensord w = param({6, 6}, 45);
    Generator masks(7);
    const auto fn = [&](const Tensord& h) { return dropout(relu(matmul(h, w)), 0.5, true, masks) * h; };
    const Generator start = masks;
    const std::vector<Tensord> plain = gradients_after(sum(fn(x)), {x, w});
    const std::uint64_t next_plain = Generator(masks).next_u64();
    masks = start;
    const std::vector<Tensord> checkpointed =
        gradients_after(sum(activation_checkpoint(x, {w}, &masks, fn)), {x, w});
    CHECK(Generator(masks).next_u64() == next_plain);  // the recompute did not advance the stream
    for (std::size_t i = 0; i < plain.size(); ++i) CHECK(max_abs_diff(plain[i], checkpointed[i]) == 0.0);
}

TEST_CASE("activation_checkpoint: a parameter changed in place between forward and backward is refused") {
    const Tensord x = param({2, 3}, 46);
    const Tensord w = param({3, 3}, 47);
    const Tensord y = activation_checkpoint(x, {w}, nullptr, [&w](const Tensord& h) { return matmul(h, w); });
    w.data()[0] += 1.0;
    w.bump_version();
    const std::string message = error_of([&] { sum(y).backward(); });
    CHECK(contains(message, "activation_checkpoint"));
    CHECK(contains(message, "modified in place"));
}

TEST_CASE("activation_checkpoint: without a graph it is fn itself; fn returning its input is refused") {
    const Tensord x = param({3}, 48);
    int calls = 0;
    const auto twice = [&](const Tensord& h) {
        ++calls;
        return h * 2.0;
    };
    {
        NoGradGuard no_grad;
        const Tensord y = activation_checkpoint(x, {}, nullptr, twice);
        CHECK_FALSE(y.requires_grad());
        CHECK(calls == 1);
    }
    const std::string message =
        error_of([&] { activation_checkpoint(x, {}, nullptr, [](const Tensord& h) { return h; }); });
    CHECK(contains(message, "returned its input"));
}

TEST_CASE("activation_checkpoint: gradient_ready sees each parameter once, after the recompute added into it") {
    const Tensord x = param({3, 4}, 49);
    const Tensord w1 = param({4, 4}, 50), w2 = param({4, 2}, 51);
    const auto layer1 = [&w1](const Tensord& h) { return relu(matmul(h, w1)); };
    const auto layer2 = [&w2](const Tensord& h) { return matmul(h, w2); };
    const std::vector<Tensord> expected =
        gradients_after(sum(layer2(layer1(x)) * layer2(layer1(x))), {x, w1, w2});
    const Tensord h = activation_checkpoint(x, {w1}, nullptr, layer1);
    const Tensord y = activation_checkpoint(h, {w2}, nullptr, layer2);
    std::vector<std::pair<const TensorImpl<double>*, double>> seen;  // each leaf and its gradient's error then
    sum(y * y).backward([&](const Tensord& leaf) {
        const std::size_t i = leaf.impl_ptr() == x.impl_ptr() ? 0 : leaf.impl_ptr() == w1.impl_ptr() ? 1 : 2;
        seen.emplace_back(leaf.impl_ptr().get(), max_abs_diff(leaf.grad(), expected[i]));
    });
    REQUIRE(seen.size() == 3);
    for (const auto& [leaf, error] : seen) CHECK(error < 1e-12);
    CHECK(seen[0].first == w2.impl_ptr().get());  // layer2's checkpoint runs first in backward
}

TEST_CASE("GPT::activation_checkpointing: the same loss and gradients, dropout included, and the same stream") {
    Generator gen(15);
    GPT<double> model(tiny_config(0.2), gen);
    model.train();
    const IndexTensor idx = IndexTensor::from_data({2, 5}, {1, 5, 5, 0, 6, 2, 3, 2, 4, 4});
    const IndexTensor targets = IndexTensor::from_data({2, 5}, {5, 5, 0, 4, 2, 3, 2, 1, 4, 0});
    const Generator start = model.dropout_generator();
    const Tensord plain_loss = model.loss(idx, targets);
    const std::vector<Tensord> plain = gradients_after(plain_loss, model.parameters());
    const std::uint64_t next_plain = Generator(model.dropout_generator()).next_u64();

    model.dropout_generator() = start;
    model.activation_checkpointing = true;
    const Tensord loss = model.loss(idx, targets);
    CHECK(loss.item() == plain_loss.item());
    const std::vector<Tensord> checkpointed = gradients_after(loss, model.parameters());
    CHECK(Generator(model.dropout_generator()).next_u64() == next_plain);
    const auto named = model.named_parameters();
    for (std::size_t i = 0; i < plain.size(); ++i) {
        CAPTURE(named[i].first);
        CHECK(max_abs_diff(plain[i], checkpointed[i]) < 1e-14);
    }
}
