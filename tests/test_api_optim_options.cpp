// Tests for the optimizers' options built like libtorch's: chainable setters that still read and
// assign like fields.

#include <doctest/doctest.h>

#include <vector>

#include "babygpt/optim/adamw.hpp"
#include "babygpt/optim/sgd.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

TEST_CASE("optim::AdamWOptions: chained setters set each value and leave the others at their defaults") {
    const optim::AdamWOptions options = optim::AdamWOptions(1e-2).weight_decay(0).betas(0.8, 0.95);
    CHECK(options.lr == 1e-2);
    CHECK(options.weight_decay == 0.0);
    CHECK(options.beta1 == 0.8);
    CHECK(options.beta2 == 0.95);
    CHECK(options.eps == 1e-8);

    optim::AdamWOptions chained;
    chained.eps(1e-6).lr(0.5);
    CHECK(chained.eps == 1e-6);
    CHECK(chained.lr == 0.5);
    CHECK(chained.weight_decay == 1e-2);
}

TEST_CASE("optim::AdamWOptions: a copy is independent and chains on itself") {
    optim::AdamWOptions a = optim::AdamWOptions(0.1).eps(1e-4);
    optim::AdamWOptions b = a;  // copy: its setters must return b, not a
    optim::AdamWOptions& returned = b.lr(0.2).weight_decay(0.5);
    CHECK(&returned == &b);
    CHECK(b.lr == 0.2);
    CHECK(b.weight_decay == 0.5);
    CHECK(b.eps == 1e-4);
    CHECK(a.lr == 0.1);
    CHECK(a.weight_decay == 1e-2);

    optim::AdamWOptions c;
    c = b;  // assignment copies the values; c's setters still return c
    CHECK(c.lr == 0.2);
    CHECK(&c.beta1(0.7) == &c);
    CHECK(b.beta1 == 0.9);
}

TEST_CASE("optim::AdamW: options built by chaining give the same steps as options set field by field") {
    optim::AdamWOptions fields;
    fields.lr = 0.05;
    fields.beta1 = 0.8;
    fields.beta2 = 0.95;
    fields.eps = 1e-3;
    fields.weight_decay = 0.1;
    Tensord p1 = Tensord::from_data({3}, {0.5, -1.0, 2.0}).requires_grad_();
    Tensord p2 = p1.detach().clone().requires_grad_();
    optim::AdamW<double> by_fields({p1}, fields);
    optim::AdamW<double> chained({p2}, optim::AdamWOptions(0.05).betas(0.8, 0.95).eps(1e-3).weight_decay(0.1));
    CHECK(chained.options.beta2 == 0.95);
    for (int step = 0; step < 3; ++step) {
        set_grad(p1, {0.3, -0.2, 1.0 + step});
        set_grad(p2, {0.3, -0.2, 1.0 + step});
        by_fields.step();
        chained.step();
    }
    check_values_exact(p2, {3}, {p1.data()[0], p1.data()[1], p1.data()[2]});
    CHECK(p1.data()[0] != 0.5);  // the steps did move the parameter
}

TEST_CASE("optim::AdamW: an invalid chained option is still rejected with its name") {
    Tensord p = Tensord::zeros({2}).requires_grad_();
    CHECK_THROWS_WITH_AS(optim::AdamW<double>({p}, optim::AdamWOptions(0.1).betas(0.9, 1.0)),
                         "AdamW: betas must be in [0, 1), got (0.9, 1)", Error);
}

TEST_CASE("optim::SGDOptions: chained setters, and SGD with them matches the hand-computed steps") {
    const optim::SGDOptions options = optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.5);
    CHECK(options.lr == 0.1);
    CHECK(options.momentum == 0.9);
    CHECK(options.weight_decay == 0.5);
    const optim::SGDOptions defaults;
    CHECK(defaults.lr == 1e-2);

    // p = 1, g = 2 each step: d = g + 0.5 p; buf = d, then 0.9 buf + d; p -= 0.1 buf.
    Tensord p = Tensord::from_data({1}, {1.0}).requires_grad_();
    optim::SGD<double> sgd({p}, options);
    set_grad(p, {2.0});
    sgd.step();  // d = 2.5, buf = 2.5, p = 0.75
    CHECK(p.data()[0] == doctest::Approx(0.75).epsilon(1e-14));
    set_grad(p, {2.0});
    sgd.step();  // d = 2.375, buf = 4.625, p = 0.2875
    CHECK(p.data()[0] == doctest::Approx(0.2875).epsilon(1e-14));
}
