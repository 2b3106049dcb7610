#pragma once
// Elementwise functions: relu, gelu, tanh, exp, log, sqrt. Each backward multiplies the incoming gradient by
// the local derivative, written in terms of whichever of input x or output y is cheaper.

#include <cmath>

#include "babygpt/autograd.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// max(x, 0). The derivative at exactly 0 is taken as 0, as PyTorch does.
/// y > 0 exactly where x > 0, so backward reads the output, which the next layer keeps anyway, and the
/// input (the widest activation of a feed-forward layer) need not be kept.
template <typename T>
Tensor<T> relu(const Tensor<T>& x) {
    profiler::Scope profile("relu");
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array().max(T(0));
    const Tensor<T> saved = y.detach();  // the output, without the graph (capturing y itself would be a cycle)
    record(y, "relu", {x}, [x = x.gradient_only(), saved](const Tensor<T>& g) {
        // dx = g where x > 0, i.e. y > 0; written over g (a buffer of the widest activation's size less)
        x.add_to_grad_over(g, (saved.array() > T(0)).select(g.array(), T(0)));
    });
    return y;
}

/// The exact GELU, x * Phi(x) with Phi the standard normal CDF (PyTorch's default, approximate='none').
template <typename T>
Tensor<T> gelu(const Tensor<T>& x) {
    const T inv_sqrt2 = T(0.70710678118654752440);
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array().unaryExpr([inv_sqrt2](T v) { return T(0.5) * v * (T(1) + std::erf(v * inv_sqrt2)); });
    record(y, "gelu", {x}, [x, inv_sqrt2](const Tensor<T>& g) {
        // d/dx [x Phi(x)] = Phi(x) + x phi(x), phi the standard normal density.
        const T inv_sqrt_2pi = T(0.39894228040143267794);
        x.add_to_grad(g.array() * x.array().unaryExpr([=](T v) {
            return T(0.5) * (T(1) + std::erf(v * inv_sqrt2)) + v * inv_sqrt_2pi * std::exp(T(-0.5) * v * v);
        }));
    });
    return y;
}

template <typename T>
Tensor<T> tanh(const Tensor<T>& x) {
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array().tanh();
    Tensor<T> saved = y.detach();  // the output, without the graph (capturing y itself would be a cycle)
    record(y, "tanh", {x}, [x, saved](const Tensor<T>& g) {
        x.add_to_grad(g.array() * (T(1) - saved.array().square()));
    });
    return y;
}

template <typename T>
Tensor<T> exp(const Tensor<T>& x) {
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array().exp();
    Tensor<T> saved = y.detach();
    record(y, "exp", {x}, [x, saved](const Tensor<T>& g) { x.add_to_grad(g.array() * saved.array()); });
    return y;
}

/// Natural logarithm; log(0) is -inf and log of a negative number NaN, as in PyTorch.
template <typename T>
Tensor<T> log(const Tensor<T>& x) {
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array().log();
    record(y, "log", {x}, [x](const Tensor<T>& g) { x.add_to_grad(g.array() / x.array()); });
    return y;
}

/// Square root; of a negative number NaN, as in PyTorch. d sqrt(x)/dx = 1 / (2 sqrt(x)), from the output.
template <typename T>
Tensor<T> sqrt(const Tensor<T>& x) {
    Tensor<T> y = Tensor<T>::empty(x.shape());
    y.array() = x.array().sqrt();
    Tensor<T> saved = y.detach();
    record(y, "sqrt", {x}, [x, saved](const Tensor<T>& g) { x.add_to_grad(g.array() / (T(2) * saved.array())); });
    return y;
}

}  // namespace babygpt
