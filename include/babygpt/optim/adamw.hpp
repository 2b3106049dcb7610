#pragma once
// AdamW with PyTorch's semantics and defaults (torch.optim.AdamW): decoupled weight decay, bias-corrected
// first and second moments. For each parameter p with gradient g, at its step t (from 1):
//   p  *= 1 - lr * weight_decay
//   m   = beta1 m + (1 - beta1) g
//   v   = beta2 v + (1 - beta2) g^2
//   p  -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// Parameters without a gradient are skipped (and their step does not advance), as in PyTorch.

#include <algorithm>
#include <cmath>
#include <vector>

#include "babygpt/optim/sgd.hpp"  // Setting, the options' chainable numbers
#include "babygpt/parallel.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt::optim {

/// torch.optim.AdamW's hyperparameters and defaults. Built like libtorch's options, each setter
/// returning the options:
///
///     auto options = babygpt::optim::AdamWOptions(1e-2).weight_decay(0).betas(0.9, 0.95);
///     double lr = options.lr;  // 0.01; every setting also reads and assigns like a field
///     options.eps = 1e-6;
struct AdamWOptions {
    AdamWOptions(double lr = 1e-3) : lr(*this, lr) {}  // implicit: AdamW(params, {1e-2}) reads well
    AdamWOptions(const AdamWOptions& other)
        : lr(*this, other.lr), beta1(*this, other.beta1), beta2(*this, other.beta2), eps(*this, other.eps),
          weight_decay(*this, other.weight_decay) {}
    AdamWOptions& operator=(const AdamWOptions&) = default;  // Setting copies values only

    /// Both moments' decay rates at once, as torch's betas=(beta1, beta2).
    AdamWOptions& betas(double b1, double b2) {
        beta1 = b1;
        beta2 = b2;
        return *this;
    }

    Setting<AdamWOptions> lr;
    Setting<AdamWOptions> beta1{*this, 0.9};
    Setting<AdamWOptions> beta2{*this, 0.999};
    Setting<AdamWOptions> eps{*this, 1e-8};
    Setting<AdamWOptions> weight_decay{*this, 1e-2};
};

/// The optimizer's whole state: per parameter its step count and both moments (same shapes as the
/// parameters). Saved in checkpoints so that a resumed run continues exactly.
template <typename T>
struct AdamWState {
    std::vector<std::int64_t> steps;
    std::vector<Tensor<T>> exp_avg;     // m
    std::vector<Tensor<T>> exp_avg_sq;  // v
};

///     babygpt::nn::Linear<float> model(4, 1);
///     babygpt::optim::AdamW<float> opt(model.parameters(), babygpt::optim::AdamWOptions(1e-2).weight_decay(0));
///     babygpt::Tensorf x = babygpt::Tensorf::ones({8, 4});
///     babygpt::Tensorf loss = babygpt::mean(model.forward(x) * model.forward(x));
///     opt.zero_grad(); loss.backward(); opt.step();
template <typename T>
class AdamW {
public:
    explicit AdamW(std::vector<Tensor<T>> params, const AdamWOptions& options = {})
        : options(options), params_(std::move(params)) {
        BABYGPT_CHECK(options.lr >= 0, "AdamW: learning rate must be >= 0, got ", options.lr);
        BABYGPT_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
                      "AdamW: betas must be in [0, 1), got (", options.beta1, ", ", options.beta2, ")");
        BABYGPT_CHECK(options.eps >= 0, "AdamW: eps must be >= 0, got ", options.eps);
        BABYGPT_CHECK(options.weight_decay >= 0, "AdamW: weight_decay must be >= 0, got ", options.weight_decay);
        state_.steps.assign(params_.size(), 0);
        for (const Tensor<T>& p : params_) {
            state_.exp_avg.push_back(Tensor<T>::zeros(p.shape()));
            state_.exp_avg_sq.push_back(Tensor<T>::zeros(p.shape()));
        }
    }

    void zero_grad() const {
        for (const Tensor<T>& p : params_) p.zero_grad();
    }

    void step() {
        const T lr = static_cast<T>(options.lr), b1 = static_cast<T>(options.beta1), b2 = static_cast<T>(options.beta2);
        const T eps = static_cast<T>(options.eps);
        const T decay = T(1) - static_cast<T>(options.lr * options.weight_decay);
        for (std::size_t i = 0; i < params_.size(); ++i) {
            const Tensor<T>& p = params_[i];
            const Tensor<T> grad = p.grad();
            if (!grad.defined()) continue;
            const std::int64_t t = ++state_.steps[i];
            const T bias_correction1 = T(1) - static_cast<T>(std::pow(options.beta1.value(), static_cast<double>(t)));
            const T bias_correction2 = T(1) - static_cast<T>(std::pow(options.beta2.value(), static_cast<double>(t)));
            const T step_size = lr / bias_correction1;
            const T sqrt_bc2 = std::sqrt(bias_correction2);
            update(p.data(), grad.data(), state_.exp_avg[i].data(), state_.exp_avg_sq[i].data(), p.numel(), decay,
                   b1, b2, step_size, sqrt_bc2, eps);
            p.bump_version();  // an in-place change: a graph that saved p can no longer run backward
        }
    }

    const AdamWState<T>& state() const { return state_; }

    /// Restores a state saved from an optimizer over parameters of the same shapes.
    void load_state(const AdamWState<T>& state) {
        BABYGPT_CHECK(state.steps.size() == params_.size() && state.exp_avg.size() == params_.size() &&
                          state.exp_avg_sq.size() == params_.size(),
                      "AdamW::load_state: the state is for ", state.steps.size(), " parameters, this optimizer has ",
                      params_.size());
        for (std::size_t i = 0; i < params_.size(); ++i) {
            state_.exp_avg[i].copy_(state.exp_avg[i]);
            state_.exp_avg_sq[i].copy_(state.exp_avg_sq[i]);
        }
        state_.steps = state.steps;
    }

    AdamWOptions options;

private:
    /// One pass over w, g, m and v, in chunks that stay in L1 (the update is memory-bound: as four
    /// whole-array statements it read and wrote the arrays four times). Every element is updated on its
    /// own, so the split across threads does not change the result.
    static void update(T* w, const T* g, T* m, T* v, std::int64_t n, T decay, T b1, T b2, T step_size, T sqrt_bc2,
                       T eps) {
        using Chunk = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
        using ConstChunk = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
        constexpr std::int64_t chunk = 1024;
        const std::int64_t chunks = (n + chunk - 1) / chunk;
        BABYGPT_OMP(parallel for schedule(static) if (n > 65536))
        for (std::int64_t c = 0; c < chunks; ++c) {
            const std::int64_t j = c * chunk, len = std::min(chunk, n - j);
            const ConstChunk gc(g + j, len);
            Chunk wc(w + j, len), mc(m + j, len), vc(v + j, len);
            mc = b1 * mc + (T(1) - b1) * gc;
            vc = b2 * vc + (T(1) - b2) * gc.square();
            wc = wc * decay - step_size * mc / (vc.sqrt() / sqrt_bc2 + eps);
        }
    }

    std::vector<Tensor<T>> params_;
    AdamWState<T> state_;
};

}  // namespace babygpt::optim
