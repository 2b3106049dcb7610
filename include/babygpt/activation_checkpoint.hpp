#pragma once
// Activation checkpointing: trade compute for memory by running a part of the model twice.
//
// A training step keeps, from the forward pass until backward reads them, the activations of every op
// (at v11, some 300 MB per transformer block). activation_checkpoint(x, parameters, randomness, fn)
// runs y = fn(x) without recording a graph, so those activations are freed as soon as fn is done, and
// records one node that keeps only x. When backward reaches that node it runs fn(x) again, this time
// recording, and back-propagates the gradient that arrived at y through the recomputed graph: into x
// and into the parameters fn read. The price is a second forward pass of fn (about a third more work
// for a whole step); what stays between forward and backward is each checkpoint's input.
//
//     const nn::Block<float>& block = *model.blocks[0];
//     Tensorf x = Tensorf::randn({4, 8, 32}, gen).requires_grad_();  // (B, T, C)
//     Tensorf y = activation_checkpoint(x, block.parameters(), &model.dropout_generator(),
//                                       [&block](const Tensorf& h) { return block.forward(h); });
//     sum(y).backward();  // runs the block again, then fills x.grad() and the block's gradients
//
// The gradients are those of the plain y = fn(x), on two conditions the recompute must meet:
// - fn computes the same values the second time. Its dropout masks come from `randomness` (the
//   generator fn's dropouts draw from): its state is kept with the node and put back for the recompute,
//   and the stream goes on afterwards where the forward pass left it. Pass nullptr when fn draws nothing.
// - what fn reads has not changed in between: `parameters` (every tensor fn reads besides x that
//   requires grad) become inputs of the node, so an in-place change of one between forward and backward
//   makes backward throw, as for any op; and a gradient_ready callback (Tensor::backward) learns that a
//   parameter is complete only after the recompute added into it.

#include <utility>
#include <vector>

#include "babygpt/autograd.hpp"
#include "babygpt/error.hpp"
#include "babygpt/random.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// Puts `generator` back to `state` for a scope, then returns it to where it was.
class RewoundGenerator {
public:
    RewoundGenerator(Generator* generator, const Generator& state) : generator_(generator) {
        if (!generator_) return;
        now_ = *generator_;
        *generator_ = state;
    }
    ~RewoundGenerator() {
        if (generator_) *generator_ = now_;
    }
    RewoundGenerator(const RewoundGenerator&) = delete;
    RewoundGenerator& operator=(const RewoundGenerator&) = delete;

private:
    Generator* generator_;
    Generator now_;
};

}  // namespace detail

/// y = fn(x), keeping only x for backward, which recomputes fn (see the top of this file).
/// `fn` is called as fn(const Tensor<T>&) -> Tensor<T>, and again during backward, so it must stay valid
/// until then (capture the model by reference, not temporaries).
template <typename T, typename Fn>
Tensor<T> activation_checkpoint(const Tensor<T>& x, const std::vector<Tensor<T>>& parameters,
                                Generator* randomness, Fn fn) {
    std::vector<Tensor<T>> inputs{x};
    inputs.insert(inputs.end(), parameters.begin(), parameters.end());
    bool any = false;
    for (const Tensor<T>& in : inputs) any = any || in.requires_grad();
    if (!GradMode::is_enabled() || !any) return fn(x);  // no backward will come: nothing to recompute

    const Generator randomness_before = randomness ? *randomness : Generator();
    Tensor<T> y;
    {
        NoGradGuard no_graph;  // fn's activations are freed as soon as fn returns
        y = fn(x);
    }
    BABYGPT_CHECK(y.impl_ptr() != x.impl_ptr(), "activation_checkpoint: fn returned its input; a checkpoint needs ",
                  "a function that computes a new tensor");
    // x is kept (the recompute reads it); the parameters are edges only: fn reads them from the model.
    record(y, "activation_checkpoint", inputs, [x, fn, randomness, randomness_before](const Tensor<T>& grad_y) {
        Tensor<T> x_again = x.detach();  // the recomputed graph starts here, apart from the outer one
        if (x.requires_grad()) x_again.requires_grad_();
        Tensor<T> y_again;
        {
            GradModeGuard recording(true);  // even inside a backward run under NoGradGuard
            detail::RewoundGenerator same_masks(randomness, randomness_before);
            y_again = fn(x_again);
        }
        BABYGPT_CHECK(y_again.shape() == grad_y.shape(), "activation_checkpoint: the recomputed output has shape ",
                      to_string(y_again.shape()), ", the forward pass's had ", to_string(grad_y.shape()),
                      "; fn must compute the same thing twice");
        if (!y_again.requires_grad()) return;  // fn read nothing that requires grad
        // dL/d(everything fn read) from dL/dy: the recomputed graph's own reverse pass. It adds into the
        // parameters' gradients directly; x's arrives on x_again and is handed on to x (its buffer
        // itself when x has no gradient yet).
        detail::backpropagate(y_again.impl_ptr(), grad_y, {});
        if (!x.requires_grad() || !x_again.has_grad()) return;
        const Tensor<T> dx = x_again.grad();
        x.add_to_grad_over(dx, dx.array());
    });
    return y;
}

}  // namespace babygpt
