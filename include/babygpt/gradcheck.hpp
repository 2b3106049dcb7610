#pragma once
// gradcheck: compares the gradients autograd computes with central finite differences, in double.
//
// f maps the inputs to a tensor of any shape. To test the whole Jacobian at once, the check reduces
// it to the scalar L = sum(f(inputs) * w) with fixed random weights w, then for every element x of
// every input that requires grad compares dL/dx from backward() with (L(x + eps) - L(x - eps)) / (2 eps).
//
//     babygpt::Generator gen(1);
//     babygpt::Tensord x = babygpt::Tensord::randn({3, 4}, gen).requires_grad_();
//     auto result = babygpt::gradcheck([](const std::vector<babygpt::Tensord>& in) { return babygpt::tanh(in[0]); }, {x});
//     if (!result.ok) throw std::runtime_error(result.message);  // also result.max_abs_error
//
// Avoid inputs at kinks (relu at 0): there the finite difference is the average of two slopes.

#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

struct GradcheckResult {
    bool ok = true;
    double max_abs_error = 0.0;  // over all checked elements
    std::string message;         // the first failing element, or empty
};

struct GradcheckOptions {
    double eps = 1e-6;   // finite-difference step
    double atol = 1e-6;  // an element passes if |analytic - numeric| <= atol + rtol * |numeric|
    double rtol = 1e-4;
    std::uint64_t seed = 0;  // for the projection weights w
};

inline GradcheckResult gradcheck(const std::function<Tensord(const std::vector<Tensord>&)>& f,
                                 const std::vector<Tensord>& inputs, const GradcheckOptions& options = {}) {
    Tensord probe = f(inputs);
    Generator gen(options.seed);
    const Tensord w = Tensord::rand(probe.shape(), gen, 0.5, 1.5);  // away from 0: every output counts
    auto loss = [&]() { return sum(mul(f(inputs), w)); };

    for (const Tensord& x : inputs) x.zero_grad();
    Tensord L = loss();
    BABYGPT_CHECK(L.requires_grad(), "gradcheck: the output does not depend on any input that requires grad");
    L.backward();

    GradcheckResult result;
    NoGradGuard no_grad;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
        const Tensord& x = inputs[k];
        if (!x.requires_grad()) continue;
        const Tensord analytic = x.grad();
        for (std::int64_t i = 0; i < x.numel(); ++i) {
            double& v = x.data()[i];
            const double saved = v;
            v = saved + options.eps;
            const double plus = loss().item();
            v = saved - options.eps;
            const double minus = loss().item();
            v = saved;
            const double numeric = (plus - minus) / (2 * options.eps);
            const double got = analytic.defined() ? analytic.data()[i] : 0.0;
            const double error = std::abs(got - numeric);
            result.max_abs_error = std::max(result.max_abs_error, error);
            if (!(error <= options.atol + options.rtol * std::abs(numeric)) && result.ok) {
                result.ok = false;
                std::ostringstream m;
                m << "gradcheck: input " << k << " " << to_string(x.shape()) << " element " << i
                  << ": autograd " << got << ", finite difference " << numeric;
                result.message = m.str();
            }
        }
    }
    return result;
}

}  // namespace babygpt
