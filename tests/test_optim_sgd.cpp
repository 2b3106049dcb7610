// Tests for optim/sgd.hpp against torch.optim.SGD: plain and momentum + weight decay trajectories
// for a fixed gradient sequence, skipped parameters, momentum state round trip and validation.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/optim/sgd.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

void check_trajectory(const optim::SGDOptions& options, const std::vector<std::vector<double>>& expected) {
    check_optimizer_trajectory<optim::SGD<double>>(options, expected);
}

}  // namespace

TEST_CASE("optim::SGD: plain SGD matches torch.optim.SGD(lr=0.1)") {
    optim::SGDOptions options;
    options.lr = 0.1;
    // torch.optim.SGD([p], lr=0.1), float64, p after each step
    check_trajectory(options, {{0.49, -0.98, 1.97, 0.0, -0.45},
                               {0.53, -0.985, 1.94, -0.2, -0.35},
                               {0.46, -1.045, 1.95, -0.17, -0.375}});
}

TEST_CASE("optim::SGD: momentum and weight decay match torch.optim.SGD(lr=0.1, momentum=0.9, weight_decay=0.01)") {
    optim::SGDOptions options;
    options.lr = 0.1;
    options.momentum = 0.9;
    options.weight_decay = 0.01;
    // torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01), float64, p after each step
    check_trajectory(options, {{0.4895, -0.979, 1.968, 0.0, -0.4497},
                               {0.5195605, -0.964121, 1.907232, -0.2, -0.48398030000000003},
                               {0.47609538949999997, -1.009765779, 1.8606335680000001, -0.3498, -0.5393485897000001}});
}

TEST_CASE("optim::SGD: defaults, and parameters without a gradient are skipped") {
    const optim::SGDOptions defaults;
    CHECK(defaults.lr == 1e-2);
    CHECK(defaults.momentum == 0.0);
    CHECK(defaults.weight_decay == 0.0);

    Tensord a = Tensord::from_data({5}, optimizer_start).requires_grad_();
    Tensord b = Tensord::from_data({2}, {1.0, -2.0}).requires_grad_();
    optim::SGDOptions options;
    options.lr = 0.1;
    options.momentum = 0.9;
    options.weight_decay = 0.5;  // would move b if it were applied
    optim::SGD<double> opt({a, b}, options);
    set_grad(a, optimizer_grads[0]);
    opt.step();
    CHECK(b.to_vector() == std::vector<double>{1.0, -2.0});
    CHECK(opt.state()[0].defined());
    CHECK_FALSE(opt.state()[1].defined());

    opt.zero_grad();
    CHECK_FALSE(a.grad().defined());
    const std::vector<double> before = a.to_vector();
    opt.step();
    CHECK(a.to_vector() == before);
}

TEST_CASE("optim::SGD: state() and load_state() resume momentum exactly") {
    optim::SGDOptions options;
    options.lr = 0.1;
    options.momentum = 0.9;
    options.weight_decay = 0.01;
    Tensord p = Tensord::from_data({5}, optimizer_start).requires_grad_();
    optim::SGD<double> opt({p}, options);
    for (std::size_t s = 0; s < 2; ++s) {
        set_grad(p, optimizer_grads[s]);
        opt.step();
    }
    std::vector<Tensord> saved;
    for (const Tensord& buf : opt.state()) saved.push_back(buf.clone());
    Tensord resumed = p.detach().clone().requires_grad_();
    optim::SGD<double> opt2({resumed}, options);
    opt2.load_state(saved);

    set_grad(p, optimizer_grads[2]);
    opt.step();
    set_grad(resumed, optimizer_grads[2]);
    opt2.step();
    CHECK(resumed.to_vector() == p.to_vector());
    // torch.optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.01): third step
    check_values_abs(resumed, {0.47609538949999997, -1.009765779, 1.8606335680000001, -0.3498, -0.5393485897000001}, 1e-12);
    // The loaded buffers are copies.
    CHECK(opt2.state()[0].data() != saved[0].data());

    optim::SGD<double> opt3({p, resumed}, options);
    CHECK_THROWS_AS(opt3.load_state(saved), Error);
}

TEST_CASE("optim::SGD: invalid options throw") {
    Tensord p = Tensord::zeros({2}).requires_grad_();
    auto make = [&](double lr, double momentum, double wd) {
        optim::SGDOptions o;
        o.lr = lr;
        o.momentum = momentum;
        o.weight_decay = wd;
        optim::SGD<double> opt({p}, o);
    };
    CHECK_NOTHROW(make(0.1, 0.9, 0.01));
    CHECK_THROWS_AS(make(-0.1, 0.0, 0.0), Error);
    CHECK_THROWS_AS(make(0.1, -0.9, 0.0), Error);
    CHECK_THROWS_AS(make(0.1, 0.0, -0.01), Error);
}
