#pragma once
// FeedForward: Linear(C, 4C), ReLU, Linear(4C, C), Dropout: "computation", position by position.
// The layers live in a Sequential called `net`, so the names are net.0.* and net.2.* as in the reference.

#include <memory>

#include "babygpt/nn/activation.hpp"
#include "babygpt/nn/dropout.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/nn/sequential.hpp"

namespace babygpt::nn {

template <typename T>
class FeedForward : public Module<T> {
public:
    FeedForward(std::int64_t n_embed, double dropout, Generator& gen) {
        net.push_back(std::make_unique<Linear<T>>(n_embed, 4 * n_embed, true, gen));
        net.push_back(std::make_unique<ReLU<T>>());
        net.push_back(std::make_unique<Linear<T>>(4 * n_embed, n_embed, true, gen));
        net.push_back(std::make_unique<Dropout<T>>(dropout, gen));
        this->register_module("net", net);
    }

    /// (B, T, C) -> (B, T, C)
    Tensor<T> forward(const Tensor<T>& x) const { return net.forward(x); }

    Sequential<T> net;
};

}  // namespace babygpt::nn
