// AdamW's update runs over each parameter in chunks of 1024 elements, split across the OpenMP threads
// above 65,536 elements. Here a parameter of many chunks with a partial last one, at 1, 2, 3 and 8
// threads, against PyTorch's AdamW written out element by element (double, 1e-12).

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "babygpt/optim/adamw.hpp"
#include "babygpt/threads.hpp"

namespace {

/// torch.optim.AdamW's step for one element: decoupled weight decay, then the bias-corrected moments.
struct AdamWChunksReference {
    double lr, beta1, beta2, eps, weight_decay;
    std::vector<double> m, v;
    int t = 0;

    void step(std::vector<double>& w, const std::vector<double>& g) {
        ++t;
        const double bc1 = 1 - std::pow(beta1, t), bc2 = 1 - std::pow(beta2, t);
        for (std::size_t i = 0; i < w.size(); ++i) {
            w[i] *= 1 - lr * weight_decay;
            m[i] = beta1 * m[i] + (1 - beta1) * g[i];
            v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
            w[i] -= lr / bc1 * m[i] / (std::sqrt(v[i]) / std::sqrt(bc2) + eps);
        }
    }
};

}  // namespace

TEST_CASE("AdamW: a parameter of many chunks and a partial last one equals PyTorch's formula at 1, 2, 3, 8 threads") {
    const std::int64_t n = 70 * 1024 + 377;  // above the threading threshold, the last chunk partial
    const int threads_before = babygpt::num_threads();
    for (const int threads : {1, 2, 3, 8}) {
        CAPTURE(threads);
        babygpt::set_num_threads(threads);
        babygpt::Generator gen(17);
        babygpt::Tensor<double> p = babygpt::Tensor<double>::randn({n}, gen).requires_grad_();
        std::vector<double> w(p.data(), p.data() + n);
        babygpt::optim::AdamW<double> opt({p}, babygpt::optim::AdamWOptions(3e-2).weight_decay(0.1).betas(0.8, 0.95));
        AdamWChunksReference reference{3e-2, 0.8, 0.95, 1e-8, 0.1, std::vector<double>(n), std::vector<double>(n)};
        for (int step = 0; step < 3; ++step) {
            opt.zero_grad();
            // A gradient that differs per element and per step: sum(p * c) has gradient c.
            babygpt::Tensor<double> c = babygpt::Tensor<double>::randn({n}, gen);
            babygpt::sum(p * c).backward();
            opt.step();
            reference.step(w, std::vector<double>(c.data(), c.data() + n));
        }
        double worst = 0;
        for (std::int64_t i = 0; i < n; ++i) worst = std::max(worst, std::abs(p.data()[i] - w[static_cast<std::size_t>(i)]));
        CHECK(worst < 1e-12);
    }
    babygpt::set_num_threads(threads_before);
}
