#pragma once
// Sequential: layers applied one after another; layer i's parameters are named "i.<name>", as in
// torch.nn.Sequential (so FeedForward's first Linear is "net.0.weight").

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "babygpt/nn/module.hpp"

namespace babygpt::nn {

///     using namespace babygpt::nn;
///     Sequential<float> net;
///     net.push_back(std::make_unique<Linear<float>>(32, 128));
///     net.push_back(std::make_unique<ReLU<float>>());
///     net.push_back(std::make_unique<Linear<float>>(128, 10));
///     babygpt::Tensorf x = babygpt::Tensorf::ones({4, 32});
///     babygpt::Tensorf y = net.forward(x);  // (4, 32) -> (4, 10)
template <typename T>
class Sequential : public Module<T> {
public:
    /// Appends a layer (any Module with `Tensor<T> forward(const Tensor<T>&) const`); returns it.
    template <typename M>
    M& push_back(std::unique_ptr<M> layer) {
        M& ref = *layer;
        this->register_module(std::to_string(layers_.size()), ref);
        steps_.push_back([&ref](const Tensor<T>& x) { return ref.forward(x); });
        layers_.push_back(std::move(layer));
        return ref;
    }

    Tensor<T> forward(Tensor<T> x) const {
        for (const auto& step : steps_) x = step(x);
        return x;
    }

    std::size_t size() const { return layers_.size(); }

private:
    std::vector<std::unique_ptr<Module<T>>> layers_;
    std::vector<std::function<Tensor<T>(const Tensor<T>&)>> steps_;
};

}  // namespace babygpt::nn
