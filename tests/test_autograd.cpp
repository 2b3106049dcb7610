// Tests for autograd.hpp: recording, backward(), gradient accumulation, NoGradGuard, detach and
// freeing the graph.

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/shape_ops.hpp"

using namespace babygpt;

namespace {

Tensord leaf(const Shape& shape, const std::vector<double>& values) {
    Tensord t = Tensord::from_data(shape, values);
    t.requires_grad_();
    return t;
}

void check_grad(const Tensord& x, const std::vector<double>& expected) {
    const Tensord g = x.grad();
    REQUIRE(g.defined());
    REQUIRE(g.shape() == x.shape());
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(g.data()[i] == doctest::Approx(expected[i]).epsilon(1e-12));
    }
}

}  // namespace

TEST_CASE("autograd: a leaf starts without a gradient") {
    const Tensord x = leaf({2}, {1, 2});
    CHECK(x.requires_grad());
    CHECK(x.is_leaf());
    CHECK_FALSE(x.grad().defined());
    CHECK_FALSE(Tensord::zeros({2}).requires_grad());
}

TEST_CASE("autograd: ops record a node only when an input requires grad") {
    const Tensord x = leaf({2}, {1, 2});
    const Tensord c = Tensord::ones({2});
    const Tensord y = x * c;
    CHECK(y.requires_grad());
    CHECK_FALSE(y.is_leaf());
    REQUIRE(y.impl().grad_fn != nullptr);
    CHECK(std::string(y.impl().grad_fn->op) == "mul");
    const Tensord z = c * 2.0;
    CHECK_FALSE(z.requires_grad());
    CHECK(z.is_leaf());
    CHECK(z.impl().grad_fn == nullptr);
}

TEST_CASE("autograd: backward through a chain") {
    // L = sum(exp(2x) + 3), dL/dx = 2 exp(2x)
    const Tensord x = leaf({3}, {-1.0, 0.0, 0.5});
    sum(babygpt::exp(x * 2.0) + 3.0).backward();
    check_grad(x, {2 * std::exp(-2.0), 2.0, 2 * std::exp(1.0)});
}

TEST_CASE("autograd: gradients accumulate across backward calls until zero_grad") {
    const Tensord x = leaf({2}, {1.0, -2.0});
    sum(x * 3.0).backward();
    check_grad(x, {3, 3});
    sum(x * 3.0).backward();
    check_grad(x, {6, 6});
    sum(x * x).backward();  // + 2x
    check_grad(x, {8, 2});

    x.zero_grad();
    CHECK_FALSE(x.grad().defined());
    sum(x * 3.0).backward();
    check_grad(x, {3, 3});
}

TEST_CASE("autograd: grad() shares the gradient buffer") {
    const Tensord x = leaf({2}, {1.0, 2.0});
    sum(x).backward();
    const Tensord g1 = x.grad();
    sum(x).backward();
    CHECK(g1.data() == x.grad().data());
    CHECK(g1.data()[0] == 2.0);  // accumulation is visible through an earlier grad() handle
}

TEST_CASE("autograd: backward of a leaf scalar") {
    const Tensord s = leaf({}, {4.0});
    s.backward();
    check_grad(s, {1.0});
}

TEST_CASE("autograd: inputs that do not require grad get no gradient") {
    const Tensord x = leaf({2}, {1.0, 2.0});
    const Tensord c = Tensord::from_data({2}, {5.0, 7.0});
    sum(x * c).backward();
    check_grad(x, {5, 7});
    CHECK_FALSE(c.grad().defined());
}

TEST_CASE("autograd: NoGradGuard records nothing") {
    const Tensord x = leaf({2, 2}, {1, 2, 3, 4});
    CHECK(GradMode::is_enabled());
    {
        NoGradGuard no_grad;
        CHECK_FALSE(GradMode::is_enabled());
        const Tensord y = matmul(x, x) + x;
        const Tensord z = sum(babygpt::tanh(y));
        CHECK_FALSE(y.requires_grad());
        CHECK_FALSE(z.requires_grad());
        CHECK(y.is_leaf());
        CHECK(z.impl().grad_fn == nullptr);
        CHECK_THROWS_WITH_AS(z.backward(), doctest::Contains("does not require grad"), Error);
        {
            NoGradGuard nested;
            CHECK_FALSE(GradMode::is_enabled());
        }
        CHECK_FALSE(GradMode::is_enabled());  // the inner guard restores "off", not "on"
    }
    CHECK(GradMode::is_enabled());
    const Tensord y = x + x;
    CHECK(y.requires_grad());
}

TEST_CASE("autograd: detach cuts the graph") {
    const Tensord x = leaf({3}, {1.0, 2.0, -0.5});
    const Tensord y = x * 3.0;
    const Tensord d = y.detach();
    CHECK_FALSE(d.requires_grad());
    CHECK(d.data() == y.data());
    // L = sum(d * x): d is a constant 3x, so dL/dx = 3x, not 6x.
    sum(d * x).backward();
    check_grad(x, {3.0, 6.0, -1.5});

    // A detached tensor can become a new leaf.
    Tensord e = y.detach();
    e.requires_grad_();
    sum(e * e).backward();
    check_grad(e, {6.0, 12.0, -3.0});
}

TEST_CASE("autograd: requires_grad_ on a computed tensor throws") {
    const Tensord x = leaf({2}, {1, 2});
    Tensord y = x * 2.0;
    CHECK_THROWS_WITH_AS(y.requires_grad_(), doctest::Contains("only leaf tensors"), Error);
}

TEST_CASE("autograd: backward needs a one-element tensor") {
    const Tensord x = leaf({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensord y = x * 2.0;
    CHECK_THROWS_WITH_AS(y.backward(), "backward: needs a one-element tensor (a loss), got shape (2,3)", Error);
    const Tensord s = sum(y, -1, true);  // (2, 1): still two elements
    CHECK_THROWS_AS(s.backward(), Error);
    // A (1, 1) result is fine.
    sum(reshape(y, {1, 6}), -1, true).backward();
    check_grad(x, {2, 2, 2, 2, 2, 2});
}

TEST_CASE("autograd: backward on a tensor that needs no grad throws") {
    const Tensord c = Tensord::ones({2});
    CHECK_THROWS_WITH_AS(sum(c).backward(), doctest::Contains("does not require grad"), Error);
}

TEST_CASE("autograd: backward twice on the same graph throws") {
    const Tensord x = leaf({2}, {1, 2});
    const Tensord loss = sum(x * x);
    loss.backward();
    check_grad(x, {2, 4});
    CHECK_THROWS_WITH_AS(loss.backward(),
                         "backward: the graph of this tensor was already freed by an earlier backward(); run the "
                         "forward pass again",
                         Error);
    check_grad(x, {2, 4});  // the failed call changed nothing
}

TEST_CASE("autograd: the graph is freed after backward") {
    const Tensord x = leaf({4}, {0.1, 0.2, 0.3, 0.4});
    const long alone = x.impl_ptr().use_count();
    Tensord hidden = babygpt::tanh(x * 2.0);
    Tensord loss = sum(hidden * hidden);
    CHECK(x.impl_ptr().use_count() > alone);  // held by the graph's nodes
    REQUIRE(hidden.impl().grad_fn != nullptr);
    REQUIRE(loss.impl().grad_fn != nullptr);

    loss.backward();
    CHECK(loss.impl().grad_fn == nullptr);
    CHECK(hidden.impl().grad_fn == nullptr);
    CHECK(x.impl_ptr().use_count() == alone);
    // Gradients of intermediate (non-leaf) tensors are not kept.
    CHECK_FALSE(hidden.grad().defined());
    CHECK_FALSE(loss.grad().defined());
    CHECK(x.grad().defined());
}

TEST_CASE("autograd: the graph is freed when its output goes away without backward") {
    const Tensord x = leaf({3}, {1, 2, 3});
    const long alone = x.impl_ptr().use_count();
    {
        const Tensord loss = sum(babygpt::exp(x) * x);
        CHECK(x.impl_ptr().use_count() > alone);
    }
    CHECK(x.impl_ptr().use_count() == alone);
}

TEST_CASE("autograd: diamond graph") {
    // a feeds two branches that meet again: d = exp(a) * (a * 3); dd/da = exp(a) * 3a + exp(a) * 3
    const Tensord a = leaf({3}, {-0.5, 0.25, 1.0});
    const Tensord left = babygpt::exp(a);
    const Tensord right = a * 3.0;
    sum(left * right).backward();
    std::vector<double> expected;
    for (double v : {-0.5, 0.25, 1.0}) expected.push_back(std::exp(v) * 3 * v + std::exp(v) * 3);
    check_grad(a, expected);

    const Tensord b = leaf({2, 2}, {0.5, -1.0, 1.5, 2.0});
    const auto result = gradcheck(
        [](const std::vector<Tensord>& in) {
            const Tensord top = babygpt::tanh(in[0]);
            const Tensord l = matmul(top, in[0]);
            const Tensord r = top * 2.0 + in[0];
            return l * r;
        },
        {b});
    INFO(result.message);
    CHECK(result.ok);
    CHECK(result.max_abs_error < 1e-6);
}

TEST_CASE("autograd: an intermediate used twice gets both gradients") {
    // y = 2x; z = y * y + y; dz/dx = (2y + 1) * 2
    const Tensord x = leaf({2}, {1.0, -3.0});
    const Tensord y = x * 2.0;
    sum(y * y + y).backward();
    check_grad(x, {(2 * 2.0 + 1) * 2, (2 * -6.0 + 1) * 2});
}

TEST_CASE("autograd: a long chain does not overflow the stack") {
    const Tensord x = leaf({1}, {0.5});
    Tensord y = x;
    for (int i = 0; i < 20000; ++i) y = y + 1.0;
    sum(y).backward();
    check_grad(x, {1.0});
    CHECK(y.impl().grad_fn == nullptr);
}

TEST_CASE("autograd: backward(gradient_ready) reports each leaf once, when its gradient is complete") {
    // loss = sum(relu(x @ w1) @ w2) + sum(w1): w1 is read twice, by the first and by the last op of the
    // forward pass, so its gradient is complete only after the reverse pass has reached the matmul.
    const Tensord x = Tensord::from_data({2, 3}, {0.5, -1.0, 2.0, 1.5, 0.25, -0.5});
    const Tensord w1 = leaf({3, 2}, {0.1, -0.2, 0.3, 0.4, -0.5, 0.6});
    const Tensord w2 = leaf({2, 1}, {0.7, -0.8});
    const Tensord unused = leaf({1}, {1.0});
    auto loss_of = [&] { return add(sum(matmul(relu(matmul(x, w1)), w2)), sum(w1)); };

    loss_of().backward();  // the plain backward's gradients, to compare with
    const std::vector<double> g1(w1.grad().data(), w1.grad().data() + 6), g2(w2.grad().data(), w2.grad().data() + 2);
    w1.zero_grad();
    w2.zero_grad();

    std::vector<std::string> reported;
    loss_of().backward([&](const Tensord& ready) {
        // At the call, the gradient already has its final value.
        if (ready.impl_ptr() == w1.impl_ptr()) {
            reported.push_back("w1");
            check_grad(w1, g1);
        } else if (ready.impl_ptr() == w2.impl_ptr()) {
            reported.push_back("w2");
            check_grad(w2, g2);
        } else {
            reported.push_back("other");
        }
    });
    CHECK(reported == std::vector<std::string>{"w2", "w1"});  // w2 is read later in the forward pass
    CHECK_FALSE(unused.has_grad());
    check_grad(w1, g1);
    check_grad(w2, g2);
}
