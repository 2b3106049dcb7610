// Tests for the graph holds of tensor.hpp: an intermediate whose values no backward reads lets go of
// its storage as soon as its last other handle goes, while everything a backward reads stays, and the
// gradients are the same either way.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>

#include "babygpt/memory_budget.hpp"
#include "babygpt/nn/feed_forward.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/layer_norm.hpp"
#include "babygpt/ops/linear.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/shape_ops.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

TEST_CASE("tensor release: the input of a relu goes once its handle goes; the gradient is unchanged") {
    const Tensord x = param({4, 3}, 31);
    Tensord h_seen, y;  // h_seen: a handle that does not keep h's values
    {
        const Tensord h = x * 3.0 - 0.5;  // mul_scalar, then sub with a scalar tensor's broadcast
        h_seen = h.gradient_only();
        y = relu(h);
        CHECK(h_seen.impl().data);  // h's own handle is still here
    }
    CHECK_FALSE(h_seen.impl().data);  // only the graph holds h now: its storage went back to the pool
    const Tensord loss = sum(y * y);
    loss.backward();
    // d/dx sum(relu(3x - 0.5)^2) = 2 relu(3x - 0.5) * 3
    for (std::int64_t i = 0; i < x.numel(); ++i) {
        const double h = 3.0 * x.data()[i] - 0.5;
        CHECK(x.grad_data()[i] == doctest::Approx(h > 0 ? 6.0 * h : 0.0).epsilon(1e-14));
    }
    CHECK(x.impl().graph_holds == 0);  // the graph is gone, and its holds with it
}

TEST_CASE("tensor release: what a backward reads stays, and so does what a handle still sees") {
    const Tensord x = param({5}, 32);
    Tensord z_seen, kept, w;
    {
        const Tensord z = x * 2.0;
        z_seen = z.gradient_only();
        w = z * z;  // mul reads both operands in backward: z must stay
    }
    CHECK(z_seen.impl().data);
    {
        const Tensord a = x + 1.0;
        kept = a;  // a second ordinary handle
        w = w + relu(a);
    }
    CHECK(kept.impl().data);  // relu does not read a, but `kept` can
    const Tensord loss = sum(w);
    loss.backward();
    for (std::int64_t i = 0; i < x.numel(); ++i) {  // d/dx [(2x)^2 + relu(x + 1)] = 8x + [x + 1 > 0]
        const double v = x.data()[i];
        CHECK(x.grad_data()[i] == doctest::Approx(8.0 * v + (v + 1.0 > 0 ? 1.0 : 0.0)).epsilon(1e-14));
    }
}

TEST_CASE("tensor release: a feed-forward layer in training keeps only what its backward reads") {
    // Linear -> ReLU -> Linear -> Dropout on (rows, C): after the forward, the first linear's output
    // (the ReLU's input) and the second's (the dropout's input) are gone; the ReLU's output (which the
    // second linear's backward reads) and the result stay. Gradients: test_nn_feed_forward.cpp.
    Generator gen(33);
    const std::int64_t rows = 64, C = 16;
    nn::FeedForward<double> ffwd(C, 0.25, gen);
    ffwd.train();
    const Tensord x = param({rows, C}, 34);
    memory_budget::enable(true);
    const Tensord y = ffwd.forward(x);
    const memory_budget::Snapshot live = memory_budget::now();
    memory_budget::enable(false);
    CHECK(live.bytes.count("linear") == 0);
    CHECK(live.bytes.at("relu") == rows * 4 * C * 8);  // doubles
    CHECK(live.bytes.at("dropout") == rows * C * 8);
    CHECK(live.total == rows * 5 * C * 8);
}

TEST_CASE("Tensor::add_to_grad_over: the first contribution takes the incoming gradient's buffer, later ones add") {
    const Tensord x = Tensord::zeros({3}).requires_grad_();
    const Tensord g = Tensord::from_data({3}, {1.0, 2.0, 3.0});
    x.add_to_grad_over(g, g.array() * 2.0);
    CHECK(x.grad().data() == g.data());  // no new buffer
    check_values(x.grad(), {3}, {2.0, 4.0, 6.0});
    const Tensord g2 = Tensord::from_data({3}, {1.0, 1.0, 1.0});
    x.add_to_grad_over(g2, g2.array() * 3.0);
    CHECK(x.grad().data() == g.data());  // added into the gradient it has
    check_values(x.grad(), {3}, {5.0, 7.0, 9.0});
    check_values(g2, {3}, {1.0, 1.0, 1.0});  // and the incoming one is left as it was
}

TEST_CASE("tensor release: relu's gradient written over the incoming one is right in whichever order x's arrive") {
    const Tensord x = Tensord::from_data({4}, {-1.5, 0.5, 2.0, -0.25}).requires_grad_();
    // relu's contribution first (x * 3 is computed first, so its backward runs last), then the other way round
    for (const bool relu_last : {false, true}) {
        CAPTURE(relu_last);
        x.zero_grad();
        const Tensord loss = relu_last ? sum(x * 3.0) + sum(relu(x) * relu(x)) : sum(relu(x) * relu(x)) + sum(x * 3.0);
        loss.backward();
        // d/dx (3x + relu(x)^2) = 3 + 2 relu(x)
        check_values(x.grad(), {4}, {3.0, 4.0, 7.0, 3.0});
    }
}

TEST_CASE("tensor release: a LayerNorm's output read by a linear goes after the forward; backward computes it again") {
    const Tensord x = param({6, 5}, 33);
    const Tensord gamma = param({5}, 34), beta = param({5}, 35), w = param({3, 5}, 36), b = param({3}, 37);
    const std::vector<Tensord> leaves{x, gamma, beta, w, b};
    std::vector<std::vector<double>> grads[2];
    for (const bool keep_output : {true, false}) {
        CAPTURE(keep_output);
        for (const Tensord& p : leaves) p.zero_grad();
        Tensord normalised_seen, kept;
        Tensord y;
        {
            const Tensord normalised = layer_norm(x, gamma, beta);
            normalised_seen = normalised.gradient_only();
            if (keep_output) kept = normalised;  // a handle outside the graph keeps the values
            y = linear(relu(x), w, b) * linear(normalised, w, b);
        }
        CHECK(static_cast<bool>(normalised_seen.impl().data) == keep_output);
        sum(y).backward();
        for (const Tensord& p : leaves) grads[keep_output].push_back(p.grad().to_vector());
        if (keep_output) continue;
        require_gradcheck([&](const std::vector<Tensord>&) {
            return sum(linear(relu(x), w, b) * linear(layer_norm(x, gamma, beta), w, b));
        }, leaves);
    }
    for (std::size_t i = 0; i < leaves.size(); ++i) CHECK(grads[0][i] == grads[1][i]);  // bit for bit
}
