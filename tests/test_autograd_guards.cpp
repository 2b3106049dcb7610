// Tests for the autograd guards (autograd.hpp, tensor.hpp): a second backward through a freed graph
// throws, the storage version counter catches in-place changes of tensors a backward needs, a graph
// dropped without backward() is torn down without deep recursion, and none of it disturbs training.

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"

#include "helpers.hpp"

using namespace babygpt;

using babygpt_test::contains;

namespace {

Tensord input_leaf(const Shape& shape, const std::vector<double>& values) {
    Tensord t = Tensord::from_data(shape, values);
    t.requires_grad_();
    return t;
}

/// The message of the babygpt::Error that `f` throws, or "" if it throws none.
template <typename F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "";
}

}  // namespace

// ---- a second backward through a freed graph -------------------------------------------------------

TEST_CASE("autograd guards: backward through a part of the graph freed by an earlier backward throws") {
    Tensord x = input_leaf({3}, {0.5, -1.0, 2.0});
    Tensord h = tanh(x * 2.0);  // shared by both losses
    Tensord loss1 = sum(h * h);
    loss1.backward();
    const std::vector<double> after_first = x.grad().to_vector();

    Tensord loss2 = sum(h * 3.0);  // a new graph on top of h, whose own graph is gone
    const std::string message = error_of([&] { loss2.backward(); });
    CHECK(contains(message, "already freed by an earlier backward()"));
    CHECK(contains(message, "run the forward pass again"));
    CHECK(contains(message, "'mul_scalar'"));  // names the op that reached the freed tensor
    // Nothing was written: the gradient is still the first backward's.
    CHECK(x.grad().to_vector() == after_first);
}

TEST_CASE("autograd guards: the freed part is found deep in the new graph, not only at its root") {
    Tensord x = input_leaf({2}, {1.0, 2.0});
    Tensord h = x * x;
    sum(h).backward();
    Tensord deep = h;
    for (int i = 0; i < 5; ++i) deep = deep + 1.0;  // several fresh ops between the root and h
    Tensord loss = sum(deep);
    CHECK(contains(error_of([&] { loss.backward(); }), "already freed by an earlier backward()"));
}

TEST_CASE("autograd guards: backward on a root whose graph was freed still throws") {
    Tensord x = input_leaf({2}, {1.0, 2.0});
    Tensord loss = sum(x * x);
    loss.backward();
    CHECK(contains(error_of([&] { loss.backward(); }), "already freed by an earlier backward()"));
}

TEST_CASE("autograd guards: a fresh forward after backward, and leaves in several graphs, are fine") {
    Tensord x = input_leaf({3}, {0.5, -1.0, 2.0});
    // Two graphs over the same leaf: gradients accumulate, as in PyTorch.
    Tensord a = sum(x * x);          // d/dx = 2x
    Tensord b = sum(mul_scalar(x, 3.0));  // d/dx = 3
    a.backward();
    CHECK_NOTHROW(b.backward());
    // Running the shared part again gives it a new graph.
    Tensord h = x * x;
    CHECK_NOTHROW(sum(h).backward());  // + 2x
    const std::vector<double> g = x.grad().to_vector();
    const std::vector<double> xs = {0.5, -1.0, 2.0};
    for (std::size_t i = 0; i < xs.size(); ++i) CHECK(g[i] == doctest::Approx(4 * xs[i] + 3).epsilon(1e-12));
}

TEST_CASE("autograd guards: a shared subexpression inside one graph is not mistaken for a freed one") {
    Tensord x = input_leaf({2, 3}, {0.1, -0.2, 0.3, 0.4, -0.5, 0.6});
    Tensord w = input_leaf({3, 2}, {0.7, -0.8, 0.9, 1.0, -1.1, 1.2});
    auto f = [](const std::vector<Tensord>& in) {
        Tensord h = tanh(matmul(in[0], in[1]));  // (2, 2), used twice below
        return h * h + exp(h);
    };
    const GradcheckResult result = gradcheck(f, {x, w});
    CHECK_MESSAGE(result.ok, result.message);
}

// ---- the version counter --------------------------------------------------------------------------

TEST_CASE("Tensor::version: copy_ and bump_version count, views share the count, clones do not") {
    Tensord a = Tensord::zeros({2, 3});
    CHECK(a.version() == 0);
    Tensord view = reshape(a, {3, 2});
    Tensord detached = a.detach();
    Tensord copy = a.clone();
    view.copy_(Tensord::ones({3, 2}));
    CHECK(a.version() == 1);  // the view's write is the base's write
    CHECK(view.version() == 1);
    CHECK(detached.version() == 1);
    CHECK(copy.version() == 0);
    CHECK(a.data()[5] == 1.0);
    a.bump_version();
    CHECK(view.version() == 2);
    CHECK(copy.version() == 0);
}

TEST_CASE("autograd guards: an input changed in place before backward throws naming the op") {
    Tensord x = Tensord::from_data({2, 2}, {1.0, 2.0, 3.0, 4.0});  // needs no grad, but matmul's backward reads it
    Tensord w = input_leaf({2, 2}, {0.5, -0.5, 0.25, 1.0});
    Tensord loss = sum(matmul(x, w));
    x.copy_(Tensord::zeros({2, 2}));
    const std::string message = error_of([&] { loss.backward(); });
    CHECK(contains(message, "a tensor needed by the backward of 'matmul' was modified in place"));
    CHECK(contains(message, "(version 1, expected 0)"));
    CHECK_FALSE(w.has_grad());  // refused before any gradient was written
}

TEST_CASE("autograd guards: a change through a reshape view or a raw write with bump_version is caught") {
    SUBCASE("through a view") {
        Tensord w = input_leaf({4}, {1.0, 2.0, 3.0, 4.0});
        Tensord loss = sum(w * w);  // mul saves w
        reshape(w.detach(), {2, 2}).copy_(Tensord::ones({2, 2}));
        CHECK(contains(error_of([&] { loss.backward(); }), "backward of 'mul'"));
    }
    SUBCASE("a raw write, announced") {
        Tensord w = input_leaf({3}, {1.0, 2.0, 3.0});
        Tensord loss = sum(log(w));
        w.data()[0] = 10.0;
        w.bump_version();
        CHECK(contains(error_of([&] { loss.backward(); }), "backward of 'log'"));
    }
}

TEST_CASE("autograd guards: an op's output changed in place before backward throws") {
    Tensord x = input_leaf({3}, {0.1, 0.2, 0.3});
    Tensord y = tanh(x);  // tanh's backward reads its output
    Tensord loss = sum(y);
    y.copy_(Tensord::zeros({3}));
    const std::string message = error_of([&] { loss.backward(); });
    CHECK(contains(message, "the output of 'tanh' was modified in place"));
    CHECK(contains(message, "(version 1, expected 0)"));
}

TEST_CASE("autograd guards: changes the backward does not see are allowed") {
    Tensord w = input_leaf({2}, {1.0, 2.0});
    SUBCASE("a change before the forward") {
        w.copy_(Tensord::from_data({2}, {3.0, 4.0}));
        Tensord loss = sum(w * w);
        REQUIRE_NOTHROW(loss.backward());
        CHECK(w.grad().to_vector() == std::vector<double>{6.0, 8.0});
    }
    SUBCASE("a change after the backward") {
        Tensord loss = sum(w * w);
        loss.backward();
        CHECK_NOTHROW(w.copy_(Tensord::zeros({2})));
        CHECK(w.grad().to_vector() == std::vector<double>{2.0, 4.0});
    }
    SUBCASE("a change of a clone") {
        Tensord saved = w.clone();
        Tensord loss = sum(w * w);
        saved.copy_(Tensord::zeros({2}));
        CHECK_NOTHROW(loss.backward());
    }
}

// ---- training is not disturbed --------------------------------------------------------------------

TEST_CASE("autograd guards: forward, backward, optimizer step, repeat: no false positives") {
    GPTConfig config;
    config.vocab_size = 11;
    config.block_size = 6;
    config.n_embed = 8;
    config.n_head = 2;
    config.n_layer = 2;
    config.dropout = 0.1;  // the dropout masks are saved tensors too
    Generator gen(7);
    GPT<float> model(config, gen);
    model.train();
    optim::AdamW<float> opt(model.parameters(), {});
    IndexTensor idx = IndexTensor::empty({2, 6}), targets = IndexTensor::empty({2, 6});
    for (std::int64_t i = 0; i < idx.numel(); ++i) {
        idx.data()[i] = (3 * i + 1) % config.vocab_size;
        targets.data()[i] = (3 * i + 4) % config.vocab_size;
    }
    const std::vector<Tensorf> params = model.parameters();
    for (int step = 0; step < 4; ++step) {
        CAPTURE(step);
        opt.zero_grad();
        // Both training paths: the fused loss, and logits + cross_entropy.
        Tensorf loss = step % 2 == 0 ? model.loss(idx, targets) : model.forward(idx, targets).loss;
        REQUIRE_NOTHROW(loss.backward());
        for (const Tensorf& p : params) REQUIRE(p.has_grad());
        opt.step();
        // An optimizer step is an in-place change of every parameter: counted, it must not upset the next
        // iteration, whose forward records the new versions.
        for (const Tensorf& p : params) p.bump_version();
    }
    // Loading weights (copy_) between iterations is fine too.
    io::load_state_dict(model, io::state_dict(model), "memory");
    CHECK(params.front().version() > 0);
    CHECK_NOTHROW(model.loss(idx, targets).backward());
    // ...but a step between a forward and its backward is refused.
    Tensorf stale = model.loss(idx, targets);
    opt.step();
    for (const Tensorf& p : params) p.bump_version();
    CHECK(contains(error_of([&] { stale.backward(); }), "was modified in place"));
}

TEST_CASE("autograd guards: the guards leave gradients unchanged (double)") {
    // The same computation with and without a counted in-place change of an unrelated tensor.
    auto gradient = [](bool touch_unrelated) {
        Tensord x = input_leaf({2, 3}, {0.3, -0.1, 0.2, 0.5, -0.4, 0.9});
        Tensord w = input_leaf({3, 2}, {0.1, 0.2, -0.3, 0.4, 0.5, -0.6});
        Tensord unrelated = Tensord::zeros({2});
        Tensord loss = sum(softmax(matmul(x, w)) * tanh(matmul(reshape(w, {2, 3}), reshape(x, {3, 2}))));
        if (touch_unrelated) unrelated.copy_(Tensord::ones({2}));
        loss.backward();
        std::vector<double> g = x.grad().to_vector();
        const std::vector<double> gw = w.grad().to_vector();
        g.insert(g.end(), gw.begin(), gw.end());
        return g;
    };
    const std::vector<double> plain = gradient(false), touched = gradient(true);
    REQUIRE(plain.size() == 12);
    CHECK(plain == touched);
    for (double v : plain) CHECK(v != 0.0);  // every element took part
}

// ---- tearing down deep graphs ---------------------------------------------------------------------

TEST_CASE("autograd guards: a chain of a million ops is destroyed without backward()") {
    Tensord x = input_leaf({1}, {1.0});
    {
        Tensord y = x;
        for (int i = 0; i < 1000000; ++i) y = add_scalar(y, 1.0);
        CHECK(y.item() == 1000001.0);
    }  // the whole chain goes here
    CHECK(x.impl_ptr().use_count() == 1);  // nothing of the graph is left holding x
}

TEST_CASE("autograd guards: a deep chain with repeated inputs (mul(y, y)) is destroyed without recursion") {
    Tensord x = input_leaf({1}, {1.0});
    {
        Tensord y = x;
        for (int i = 0; i < 300000; ++i) y = mul(y, y);
    }
    CHECK(x.impl_ptr().use_count() == 1);
}

TEST_CASE("autograd guards: teardown keeps the parts of a graph that are still in use") {
    Tensord x = input_leaf({1}, {2.0});
    Tensord kept = x;
    for (int i = 0; i < 1000; ++i) kept = kept * 1.0;  // d kept / dx = 1
    { Tensord dropped = tanh(kept + 1.0); }  // a graph on top of `kept`, released without backward()
    REQUIRE(kept.impl().grad_fn != nullptr);
    kept.backward();
    CHECK(x.grad().item() == 1.0);
}

TEST_CASE("autograd guards: backward through a long chain, then teardown of the rest") {
    Tensord x = input_leaf({1}, {0.0});
    Tensord y = x;
    for (int i = 0; i < 200000; ++i) y = add_scalar(y, 1.0);
    sum(y).backward();
    CHECK(x.grad().item() == 1.0);
}
