#pragma once
// Autograd: define-by-run reverse-mode differentiation.
//
// Every differentiable op computes its output and then calls record(), which attaches a Node to the
// output: the op's name, its inputs, and a backward function written right beside the forward code.
// backward() on a scalar sorts the graph topologically, seeds d(loss)/d(loss) = 1, and walks the nodes
// in reverse, each one accumulating (+=) into its inputs' gradients. The graph is freed as it goes.

#include <functional>
#include <memory>
#include <unordered_set>
#include <utility>
#include <vector>

#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

/// How a tensor was computed: enough to send its gradient back to its inputs.
template <typename T>
struct Node {
    const char* op;                                      // e.g. "matmul", for debugging
    std::vector<std::shared_ptr<TensorImpl<T>>> inputs;  // the edges of the graph
    std::function<void(const Tensor<T>& grad_output)> backward;
};

/// Whether ops record the graph (thread-local; on by default).
class GradMode {
public:
    static bool is_enabled() { return enabled_flag(); }
    static void set_enabled(bool on) { enabled_flag() = on; }

private:
    static bool& enabled_flag() {
        thread_local bool enabled = true;
        return enabled;
    }
};

/// RAII scope in which nothing is recorded (evaluation, generation, optimizer updates).
///
///     { babygpt::NoGradGuard no_grad; auto logits = model.forward(idx); }
class NoGradGuard {
public:
    NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
    ~NoGradGuard() { GradMode::set_enabled(previous_); }
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

private:
    bool previous_;
};

/// Attaches a backward function to `output` if grad mode is on and any input requires grad.
/// `backward(grad_output)` must accumulate into the gradients of the inputs that require them.
template <typename T, typename BackwardFn>
void record(Tensor<T>& output, const char* op, const std::vector<Tensor<T>>& inputs, BackwardFn&& backward) {
    if (!GradMode::is_enabled()) return;
    bool any = false;
    for (const Tensor<T>& in : inputs) any = any || in.requires_grad();
    if (!any) return;
    auto node = std::make_shared<Node<T>>();
    node->op = op;
    for (const Tensor<T>& in : inputs) node->inputs.push_back(in.impl_ptr());
    node->backward = std::forward<BackwardFn>(backward);
    TensorImpl<T>& out = output.impl();
    out.requires_grad = true;
    out.is_leaf = false;
    out.grad_fn = std::move(node);
}

namespace detail {

/// The tensors reachable from `root` through grad_fn edges, each after all of its inputs.
/// Iterative depth-first search, so a deep graph cannot overflow the stack.
template <typename T>
std::vector<std::shared_ptr<TensorImpl<T>>> topological_order(const std::shared_ptr<TensorImpl<T>>& root) {
    std::vector<std::shared_ptr<TensorImpl<T>>> order;
    std::unordered_set<const TensorImpl<T>*> visited;
    // (tensor, index of the next input to visit)
    std::vector<std::pair<std::shared_ptr<TensorImpl<T>>, std::size_t>> stack;
    stack.emplace_back(root, 0);
    visited.insert(root.get());
    while (!stack.empty()) {
        auto& [tensor, next] = stack.back();
        const Node<T>* node = tensor->grad_fn.get();
        if (node && next < node->inputs.size()) {
            std::shared_ptr<TensorImpl<T>> input = node->inputs[next++];
            if (input->requires_grad && visited.insert(input.get()).second) stack.emplace_back(input, 0);
        } else {
            order.push_back(tensor);
            stack.pop_back();
        }
    }
    return order;
}

}  // namespace detail

template <typename T>
void Tensor<T>::backward() const {
    BABYGPT_CHECK(numel() == 1, "backward: needs a one-element tensor (a loss), got shape ", to_string(shape()));
    BABYGPT_CHECK(requires_grad(), "backward: this tensor does not require grad (no input of the graph ",
                  "requires grad, or it was computed under NoGradGuard)");
    BABYGPT_CHECK(is_leaf() || impl().grad_fn, "backward: the graph of this tensor was already freed by an ",
                  "earlier backward(); run the forward pass again");
    const auto order = detail::topological_order(impl_ptr());
    grad_data()[0] += T(1);
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
        TensorImpl<T>& tensor = **it;
        if (!tensor.grad_fn) continue;  // a leaf: its gradient is the result
        if (tensor.grad) {
            profiler::Scope profile(tensor.grad_fn->op, profiler::Phase::backward);
            tensor.grad_fn->backward(Tensor<T>(*it).grad());
        }
        // Free the graph as we go; like PyTorch, keep gradients of leaves only.
        tensor.grad_fn.reset();
        tensor.grad.reset();
    }
}

}  // namespace babygpt
