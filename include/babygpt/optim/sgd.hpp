#pragma once
// SGD with optional momentum and L2 weight decay, as torch.optim.SGD (dampening 0, no Nesterov):
//   g += weight_decay * p;   buf = momentum * buf + g (buf = g on the first step);   p -= lr * buf

#include <vector>

#include "babygpt/tensor.hpp"

namespace babygpt::optim {

struct SGDOptions {
    double lr = 1e-2;
    double momentum = 0.0;
    double weight_decay = 0.0;
};

template <typename T>
class SGD {
public:
    explicit SGD(std::vector<Tensor<T>> params, SGDOptions options = {})
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
