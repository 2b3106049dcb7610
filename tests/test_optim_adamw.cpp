// Tests for optim/adamw.hpp against torch.optim.AdamW: parameter trajectories for a fixed gradient
// sequence (default and custom hyperparameters), skipping parameters without a gradient, the
// state()/load_state() round trip and option validation.

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/optim/adamw.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

const std::vector<double>& kStart = optimizer_start;
const std::vector<std::vector<double>>& kGrads = optimizer_grads;

void check_trajectory(const optim::AdamWOptions& options, const std::vector<std::vector<double>>& expected) {
    const auto opt = check_optimizer_trajectory<optim::AdamW<double>>(options, expected);
    CHECK(opt.state().steps == std::vector<std::int64_t>{3});
}

}  // namespace

TEST_CASE("optim::AdamW: the defaults are PyTorch's") {
    const optim::AdamWOptions defaults;
    CHECK(defaults.lr == 1e-3);
    CHECK(defaults.beta1 == 0.9);
    CHECK(defaults.beta2 == 0.999);
    CHECK(defaults.eps == 1e-8);
    CHECK(defaults.weight_decay == 1e-2);
}

TEST_CASE("optim::AdamW: matches torch.optim.AdamW(lr=0.1, weight_decay=0.01)") {
    optim::AdamWOptions options;
    options.lr = 0.1;
    options.weight_decay = 0.01;
    // torch.optim.AdamW([p], lr=0.1, weight_decay=0.01), float64, p after each of the three steps
    check_trajectory(options,
                     {{0.399500009999999, -0.8990000049999998, 1.8980000033333333, 0.0, -0.39969999933333333},
                      {0.4550508574751284, -0.8511541910954469, 1.796102006663334, -0.07441368183064559,
                       -0.41375235219226497},
                      {0.4214870021795008, -0.8989418334760604, 1.7337361128225095, -0.12174340325595928,
                       -0.43318607886003446}});
}

TEST_CASE("optim::AdamW: matches torch.optim.AdamW with custom betas, eps and weight decay") {
    optim::AdamWOptions options;
    options.lr = 0.05;
    options.beta1 = 0.8;
    options.beta2 = 0.95;
    options.eps = 1e-3;
    options.weight_decay = 0.1;
    // torch.optim.AdamW([p], lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1), float64
    check_trajectory(options,
                     {{0.4479950495049505, -0.9452487562189055, 1.9401661129568106, 0.0, -0.34846668887408394},
                      {0.47580264573369435, -0.919466464271382, 1.8806313953488372, -0.038762491240517095,
                       -0.3511006917210286},
                      {0.45441858236955646, -0.9428655199059113, 1.8440049377724343, -0.061361066219030286,
                       -0.3574715602152783}});
}

TEST_CASE("optim::AdamW: float parameters follow the same trajectory to float precision") {
    Tensorf p = Tensorf::from_data({5}, std::vector<float>(kStart.begin(), kStart.end())).requires_grad_();
    optim::AdamWOptions options;
    options.lr = 0.1;
    optim::AdamW<float> opt({p}, options);
    for (const auto& g : kGrads) {
        set_grad(p, g);
        opt.step();
    }
    // torch.optim.AdamW([p], lr=0.1, weight_decay=0.01), float64, after three steps
    const std::vector<double> expected{0.4214870021795008, -0.8989418334760604, 1.7337361128225095,
                                       -0.12174340325595928, -0.43318607886003446};
    for (std::size_t i = 0; i < 5; ++i) CHECK(std::abs(p.data()[i] - expected[i]) < 1e-5);
}

TEST_CASE("optim::AdamW: parameters without a gradient are skipped entirely") {
    Tensord a = Tensord::from_data({5}, kStart).requires_grad_();
    Tensord b = Tensord::from_data({2}, {1.0, -2.0}).requires_grad_();
    optim::AdamWOptions options;
    options.lr = 0.1;
    optim::AdamW<double> opt({b, a}, options);

    set_grad(a, kGrads[0]);  // b has no gradient: no step, no weight decay, no state change
    opt.step();
    CHECK(b.to_vector() == std::vector<double>{1.0, -2.0});
    CHECK(opt.state().steps == std::vector<std::int64_t>{0, 1});
    CHECK(opt.state().exp_avg[0].to_vector() == std::vector<double>{0, 0});
    check_values_abs(a, {0.399500009999999, -0.8990000049999998, 1.8980000033333333, 0.0, -0.39969999933333333}, 1e-12);

    // b's first step later is a first step (bias correction with t = 1): |update| = lr for each element.
    a.zero_grad();
    set_grad(b, {0.5, -0.25});
    opt.step();
    CHECK(opt.state().steps == std::vector<std::int64_t>{1, 1});
    CHECK(b(0) == doctest::Approx(1.0 * (1 - 0.1 * 0.01) - 0.1).epsilon(1e-6));
    CHECK(b(1) == doctest::Approx(-2.0 * (1 - 0.1 * 0.01) + 0.1).epsilon(1e-6));
}

TEST_CASE("optim::AdamW: zero_grad clears the parameters' gradients") {
    Tensord p = Tensord::from_data({5}, kStart).requires_grad_();
    optim::AdamW<double> opt({p});
    set_grad(p, kGrads[0]);
    opt.zero_grad();
    CHECK_FALSE(p.grad().defined());
    opt.step();  // nothing to do
    CHECK(p.to_vector() == kStart);
}

TEST_CASE("optim::AdamW: state() and load_state() resume a run exactly") {
    optim::AdamWOptions options;
    options.lr = 0.1;
    Tensord p = Tensord::from_data({5}, kStart).requires_grad_();
    optim::AdamW<double> opt({p}, options);
    for (std::size_t s = 0; s < 2; ++s) {
        set_grad(p, kGrads[s]);
        opt.step();
    }
    const optim::AdamWState<double>& state = opt.state();
    REQUIRE(state.steps.size() == 1);
    CHECK(state.steps[0] == 2);
    CHECK(state.exp_avg[0].shape() == Shape{5});
    CHECK(state.exp_avg_sq[0].shape() == Shape{5});
    // m after two steps: 0.9 * 0.1 * g1 + 0.1 * g2 (elementwise)
    for (std::int64_t i = 0; i < 5; ++i)
        CHECK(state.exp_avg[0](i) == doctest::Approx(0.09 * kGrads[0][static_cast<std::size_t>(i)] +
                                                     0.1 * kGrads[1][static_cast<std::size_t>(i)]).epsilon(1e-12));

    // A checkpoint: the parameter and a deep copy of the optimizer state.
    optim::AdamWState<double> saved;
    saved.steps = state.steps;
    saved.exp_avg.push_back(state.exp_avg[0].clone());
    saved.exp_avg_sq.push_back(state.exp_avg_sq[0].clone());
    Tensord resumed = p.detach().clone().requires_grad_();
    optim::AdamW<double> opt2({resumed}, options);
    opt2.load_state(saved);
    CHECK(opt2.state().steps == std::vector<std::int64_t>{2});

    set_grad(p, kGrads[2]);
    opt.step();
    set_grad(resumed, kGrads[2]);
    opt2.step();
    CHECK(resumed.to_vector() == p.to_vector());
    CHECK(opt2.state().exp_avg_sq[0].to_vector() == opt.state().exp_avg_sq[0].to_vector());
    // And both equal PyTorch's third step.
    check_values_abs(resumed, {0.4214870021795008, -0.8989418334760604, 1.7337361128225095, -0.12174340325595928,
                           -0.43318607886003446}, 1e-12);

    // load_state copies: the loaded optimizer does not share the saved tensors.
    CHECK(opt2.state().exp_avg[0].data() != saved.exp_avg[0].data());

    // A state for a different number of parameters is refused.
    optim::AdamW<double> opt3({resumed, p}, options);
    CHECK_THROWS_AS(opt3.load_state(saved), Error);
    // ... and one with different shapes too.
    Tensord other = Tensord::zeros({3}).requires_grad_();
    optim::AdamW<double> opt4({other}, options);
    CHECK_THROWS_AS(opt4.load_state(saved), Error);
}

TEST_CASE("optim::AdamW: minimises a quadratic") {
    Tensord x = Tensord::from_data({3}, {3.0, -2.0, 1.0}).requires_grad_();
    const Tensord target = Tensord::from_data({3}, {0.5, 0.25, -1.0});
    optim::AdamWOptions options;
    options.lr = 0.05;
    options.weight_decay = 0.0;
    optim::AdamW<double> opt({x}, options);
    for (int i = 0; i < 500; ++i) {
        opt.zero_grad();
        const Tensord d = x - target;
        sum(d * d).backward();
        opt.step();
    }
    for (std::int64_t i = 0; i < 3; ++i) CHECK(x(i) == doctest::Approx(target(i)).epsilon(1e-2));
}

TEST_CASE("optim::AdamW: invalid options throw") {
    Tensord p = Tensord::zeros({2}).requires_grad_();
    auto make = [&](double lr, double b1, double b2, double eps, double wd) {
        optim::AdamWOptions o;
        o.lr = lr;
        o.beta1 = b1;
        o.beta2 = b2;
        o.eps = eps;
        o.weight_decay = wd;
        optim::AdamW<double> opt({p}, o);
    };
    CHECK_NOTHROW(make(1e-3, 0.9, 0.999, 1e-8, 0.01));
    CHECK_NOTHROW(make(0.0, 0.0, 0.0, 0.0, 0.0));
    CHECK_THROWS_AS(make(-1e-3, 0.9, 0.999, 1e-8, 0.01), Error);
    CHECK_THROWS_AS(make(1e-3, 1.0, 0.999, 1e-8, 0.01), Error);
    CHECK_THROWS_AS(make(1e-3, -0.1, 0.999, 1e-8, 0.01), Error);
    CHECK_THROWS_AS(make(1e-3, 0.9, 1.0, 1e-8, 0.01), Error);
    CHECK_THROWS_AS(make(1e-3, 0.9, -0.5, 1e-8, 0.01), Error);
    CHECK_THROWS_AS(make(1e-3, 0.9, 0.999, -1e-8, 0.01), Error);
    CHECK_THROWS_AS(make(1e-3, 0.9, 0.999, 1e-8, -0.01), Error);
}
