#pragma once
// SGD with optional momentum and L2 weight decay, as torch.optim.SGD (dampening 0, no Nesterov):
//   g += weight_decay * p;   buf = momentum * buf + g (buf = g on the first step);   p -= lr * buf

#include <vector>

#include "babygpt/tensor.hpp"

namespace babygpt::optim {

/// One number of an optimizer's options that reads and assigns like a plain field (`options.lr = 0.1`,
/// `options.lr > 1`) and also sets like libtorch's builders, returning the whole options so that calls
/// chain: `SGDOptions(0.1).momentum(0.9)`. A member cannot be both a field and a function, so the
/// setter is this object's call operator; it keeps a pointer to the options it belongs to, which their
/// copy constructor points at the new copy (copy assignment copies the value only).
template <typename Options>
class Setting {
public:
    Setting(Options& owner, double value) : owner_(&owner), value_(value) {}
    Setting(const Setting&) = delete;  // the options' copy constructor gives each copy its owner
    Setting& operator=(const Setting& other) {
        value_ = other.value_;
        return *this;
    }
    Setting& operator=(double value) {
        value_ = value;
        return *this;
    }

    /// Sets the value and returns the options, for chaining.
    Options& operator()(double value) {
        value_ = value;
        return *owner_;
    }

    double value() const { return value_; }
    operator double() const { return value_; }

private:
    Options* owner_;
    double value_;
};

/// torch.optim.SGD's hyperparameters and defaults, built like libtorch's options:
///
///     auto options = babygpt::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4);
///     double momentum = options.momentum;  // 0.9; every setting also reads and assigns like a field
///     options.lr = 0.05;
struct SGDOptions {
    SGDOptions(double lr = 1e-2) : lr(*this, lr) {}  // implicit: SGD(params, {0.1}) reads well
    SGDOptions(const SGDOptions& other)
        : lr(*this, other.lr), momentum(*this, other.momentum), weight_decay(*this, other.weight_decay) {}
    SGDOptions& operator=(const SGDOptions&) = default;  // Setting copies values only

    Setting<SGDOptions> lr;
    Setting<SGDOptions> momentum{*this, 0.0};
    Setting<SGDOptions> weight_decay{*this, 0.0};
};

template <typename T>
class SGD {
public:
    explicit SGD(std::vector<Tensor<T>> params, const SGDOptions& options = {})
        : options(options), params_(std::move(params)), momentum_buffers_(params_.size()) {
        BABYGPT_CHECK(options.lr >= 0, "SGD: learning rate must be >= 0, got ", options.lr);
        BABYGPT_CHECK(options.momentum >= 0, "SGD: momentum must be >= 0, got ", options.momentum);
        BABYGPT_CHECK(options.weight_decay >= 0, "SGD: weight_decay must be >= 0, got ", options.weight_decay);
    }

    void zero_grad() const {
        for (const Tensor<T>& p : params_) p.zero_grad();
    }

    void step() {
        const T lr = static_cast<T>(options.lr), mu = static_cast<T>(options.momentum);
        const T wd = static_cast<T>(options.weight_decay);
        for (std::size_t i = 0; i < params_.size(); ++i) {
            const Tensor<T>& p = params_[i];
            const Tensor<T> grad = p.grad();
            if (!grad.defined()) continue;
            Tensor<T> d = grad.clone();
            if (wd != T(0)) d.array() += wd * p.array();
            if (mu != T(0)) {
                Tensor<T>& buf = momentum_buffers_[i];
                if (!buf.defined()) buf = d.clone();
                else buf.array() = mu * buf.array() + d.array();
                d = buf;
            }
            p.array() -= lr * d.array();
            p.bump_version();  // an in-place change: a graph that saved p can no longer run backward
        }
    }

    /// Momentum buffers, one per parameter (undefined before the parameter's first step or without momentum).
    const std::vector<Tensor<T>>& state() const { return momentum_buffers_; }
    void load_state(const std::vector<Tensor<T>>& buffers) {
        BABYGPT_CHECK(buffers.size() == params_.size(), "SGD::load_state: the state is for ", buffers.size(),
                      " parameters, this optimizer has ", params_.size());
        for (std::size_t i = 0; i < buffers.size(); ++i)
            momentum_buffers_[i] = buffers[i].defined() ? buffers[i].clone() : Tensor<T>();
    }

    SGDOptions options;

private:
    std::vector<Tensor<T>> params_;
    std::vector<Tensor<T>> momentum_buffers_;
};

}  // namespace babygpt::optim
