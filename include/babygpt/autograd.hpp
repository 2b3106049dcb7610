#pragma once
// Autograd: define-by-run reverse-mode differentiation.
//
// Every differentiable op computes its output and then calls record(), which attaches a Node to the
// output: the op's name, its inputs, and a backward function written right beside the forward code.
// backward() on a scalar sorts the graph topologically, seeds d(loss)/d(loss) = 1, and walks the nodes
// in reverse, each one adding its contribution into its inputs' gradients. The graph is freed as it goes.
//
// How a backward adds into a gradient (one rule for every op). A tensor used twice gets the sum of two
// contributions, so a backward always adds; which call it uses depends on who receives:
// - a whole contribution (every element gets one) goes through x.add_to_grad(expression), or through
//   x.grad_target() when a kernel writes it itself. The first contribution is assigned into a fresh,
//   uninitialised buffer, later ones are added: the same result as adding to zeros, without filling the
//   buffer with zeros and reading them back (most gradients have exactly one contribution);
// - a scattered contribution (only some rows or elements get one, e.g. the embedding rows that were
//   looked up) is added into x.grad_data() or x.grad_matrix(), which are zero-filled on first use.
//
// Guards, with PyTorch's semantics:
// - a second backward() through a part of the graph that an earlier one freed throws (the gradients
//   of everything behind it would be lost silently); run the forward pass again;
// - a tensor that a backward will read (an input or the output of its op) and that was modified in
//   place after the op ran makes backward() throw naming the op: record() notes the storage versions
//   (tensor.hpp), backward() compares them before it changes anything;
// - a graph dropped without backward() is torn down in a loop, not by recursion, so a chain of a
//   million ops cannot overflow the stack.

#include <algorithm>
#include <cstdint>
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
    const char* op = "";                                 // e.g. "matmul", for debugging and errors
    std::vector<std::shared_ptr<TensorImpl<T>>> inputs;  // the edges of the graph
    std::vector<std::uint64_t> input_versions;           // the inputs' storage versions when recorded
    std::uint64_t output_version = 0;                    // the output's, likewise
    std::function<void(const Tensor<T>& grad_output)> backward;
    // Optional: the output's values computed again, from what `backward` keeps anyway (set through
    // recompute_on_demand). Then a backward that reads the output (Tensor::recomputable) does not keep it.
    std::function<Tensor<T>()> recompute_output;

    Node() = default;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Releasing a node releases its inputs, whose nodes release theirs, ...: by plain recursion a
    /// chain of ~100,000 ops overflows the stack. Instead, the nodes that would die with this one are
    /// moved onto a local stack and released one at a time, each after its own inputs' nodes were taken.
    ~Node() {
        for (const auto& input : inputs)
            if (input) --input->graph_holds;  // this node's edges go (tensor.hpp: graph holds)
        std::vector<std::shared_ptr<Node>> dying;
        take_dying_inputs(*this, dying);
        while (!dying.empty()) {
            std::shared_ptr<Node> node = std::move(dying.back());
            dying.pop_back();
            if (node.use_count() == 1) take_dying_inputs(*node, dying);
            // `node` is released here; its inputs' nodes are on `dying` already, so this does not recurse.
        }
    }

private:
    /// Moves the nodes of the inputs that only `node` keeps alive onto `dying`.
    static void take_dying_inputs(Node& node, std::vector<std::shared_ptr<Node>>& dying) {
        node.backward = nullptr;  // its captures hold inputs too: drop them first, so that use_count is exact
        node.recompute_output = nullptr;
        for (std::shared_ptr<TensorImpl<T>>& input : node.inputs) {
            if (!input || !input->grad_fn) continue;
            // An input may appear more than once (mul(x, x)): each appearance is one of `node`'s holds.
            const auto holds = std::count(node.inputs.begin(), node.inputs.end(), input);
            if (input.use_count() == holds) dying.push_back(std::move(input->grad_fn));
        }
    }
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

/// RAII scope in which recording is on or off, as asked; the mode before it comes back at its end.
class GradModeGuard {
public:
    explicit GradModeGuard(bool on) : previous_(GradMode::is_enabled()) { GradMode::set_enabled(on); }
    ~GradModeGuard() { GradMode::set_enabled(previous_); }
    GradModeGuard(const GradModeGuard&) = delete;
    GradModeGuard& operator=(const GradModeGuard&) = delete;

private:
    bool previous_;
};

/// RAII scope in which nothing is recorded (evaluation, generation, optimizer updates).
///
///     { babygpt::NoGradGuard no_grad; auto logits = model.forward(idx); }
class NoGradGuard : public GradModeGuard {
public:
    NoGradGuard() : GradModeGuard(false) {}
};

/// Attaches a backward function to `output` if grad mode is on and any input requires grad.
/// `backward(grad_output)` must add into the gradients of the inputs that require them (the rule above).
template <typename T, typename BackwardFn>
void record(Tensor<T>& output, const char* op, const std::vector<Tensor<T>>& inputs, BackwardFn&& backward) {
    if (!GradMode::is_enabled()) return;
    bool any = false;
    for (const Tensor<T>& in : inputs) any = any || in.requires_grad();
    if (!any) return;
    auto node = std::make_shared<Node<T>>();
    node->op = op;
    node->inputs.reserve(inputs.size());
    node->input_versions.reserve(inputs.size());
    for (const Tensor<T>& in : inputs) {
        node->inputs.push_back(in.impl_ptr());
        ++in.impl().graph_holds;  // an edge never reads the data
        node->input_versions.push_back(in.version());
    }
    node->output_version = output.version();
    node->backward = std::forward<BackwardFn>(backward);
    TensorImpl<T>& out = output.impl();
    out.requires_grad = true;
    out.is_leaf = false;
    out.grad_fn = std::move(node);
}

/// Lets the graph drop `output`'s values once the forward pass is done with them: a backward that reads
/// them asks `recompute()` for them again (Tensor::recomputable, Tensor::values). For an op whose output
/// is cheap to compute from what its own backward keeps anyway: a LayerNorm's, from its input.
template <typename T, typename Recompute>
void recompute_on_demand(Tensor<T>& output, Recompute&& recompute) {
    if (output.impl().grad_fn) output.impl().grad_fn->recompute_output = std::forward<Recompute>(recompute);
}

template <typename T>
Tensor<T> Tensor<T>::recomputable() const {
    const bool can = impl_ && impl_->grad_fn && impl_->grad_fn->recompute_output;
    return can ? gradient_only() : *this;
}

template <typename T>
Tensor<T> Tensor<T>::values() const {
    if (impl().data) return *this;
    BABYGPT_CHECK(impl_->grad_fn && impl_->grad_fn->recompute_output, "Tensor::values: the values of this tensor ",
                  "were let go and its op can no longer compute them (its backward has run)");
    return impl_->grad_fn->recompute_output();
}

namespace detail {

/// A non-leaf tensor that requires grad but has no node: an earlier backward() freed its graph.
template <typename T>
bool graph_was_freed(const TensorImpl<T>& tensor) {
    return !tensor.is_leaf && tensor.requires_grad && !tensor.grad_fn;
}

/// The tensors reachable from `root` through grad_fn edges, each after all of its inputs.
/// Iterative depth-first search, so a deep graph cannot overflow the stack. Throws if the walk reaches
/// a tensor whose graph an earlier backward() freed: the gradients behind it would be lost.
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
            BABYGPT_CHECK(!graph_was_freed(*input), "backward: an input of '", node->op, "' was computed by a ",
                          "graph that was already freed by an earlier backward(); a second backward through ",
                          "the same tensors needs its own graph: run the forward pass again");
            if (input->requires_grad && visited.insert(input.get()).second) stack.emplace_back(input, 0);
        } else {
            order.push_back(tensor);
            stack.pop_back();
        }
    }
    return order;
}

/// Throws if a tensor that `tensor`'s backward reads was modified in place since the op recorded it.
template <typename T>
void check_unmodified(const TensorImpl<T>& tensor) {
    const Node<T>& node = *tensor.grad_fn;
    for (std::size_t i = 0; i < node.inputs.size(); ++i) {
        if (!node.inputs[i]->data) continue;  // let go after the forward: no backward reads it (tensor.hpp)
        const std::uint64_t now = node.inputs[i]->data.version(), then = node.input_versions[i];
        BABYGPT_CHECK(now == then, "backward: a tensor needed by the backward of '", node.op, "' was modified in ",
                      "place after it was used (version ", now, ", expected ", then, "); run the forward pass ",
                      "again after the change, or change a clone() instead");
    }
    const std::uint64_t now = tensor.data ? tensor.data.version() : node.output_version;
    BABYGPT_CHECK(now == node.output_version, "backward: the output of '", node.op, "' was modified in place ",
                  "after it was computed (version ", now, ", expected ", node.output_version, "); run the ",
                  "forward pass again after the change, or change a clone() instead");
}

/// For each position of `order`, the leaves (tensors that require grad but were not computed by an op)
/// whose last contribution comes from that position's node: once it has run, their gradients are complete.
template <typename T>
std::vector<std::vector<std::shared_ptr<TensorImpl<T>>>> leaves_completed_by(
    const std::vector<std::shared_ptr<TensorImpl<T>>>& order) {
    std::vector<std::vector<std::shared_ptr<TensorImpl<T>>>> completed(order.size());
    std::unordered_set<const TensorImpl<T>*> seen;
    // The reverse pass runs `order` from its end; so of the nodes that read a leaf, the one nearest the
    // front runs last.
    for (std::size_t position = 0; position < order.size(); ++position) {
        const Node<T>* node = order[position]->grad_fn.get();
        if (!node) continue;
        for (const auto& input : node->inputs)
            if (input->is_leaf && input->requires_grad && seen.insert(input.get()).second)
                completed[position].push_back(input);
    }
    return completed;
}

/// The reverse pass from `root`, whose gradient is `seed` (same shape): Tensor::backward() with
/// seed 1, and activation_checkpoint.hpp from a recomputed block's output with the gradient that
/// reached the block.
template <typename T>
void backpropagate(const std::shared_ptr<TensorImpl<T>>& root, const Tensor<T>& seed,
                   const std::function<void(const Tensor<T>& leaf)>& gradient_ready) {
    auto order = topological_order(root);
    for (const auto& tensor : order)  // every check before the first gradient is written
        if (tensor->grad_fn) check_unmodified(*tensor);
    std::vector<std::vector<std::shared_ptr<TensorImpl<T>>>> completed;
    if (gradient_ready) completed = leaves_completed_by(order);
    Tensor<T>(root).add_to_grad(seed.array());
    for (std::size_t position = order.size(); position-- > 0;) {
        TensorImpl<T>& tensor = *order[position];
        if (!tensor.grad_fn) continue;  // a leaf: its gradient is the result
        if (tensor.grad) {
            profiler::Scope profile(tensor.grad_fn->op, profiler::Phase::backward);
            tensor.grad_fn->backward(Tensor<T>(order[position]).grad());
        }
        // Free the graph as we go; like PyTorch, keep gradients of leaves only.
        tensor.grad_fn.reset();
        tensor.grad.reset();
        if (gradient_ready)
            for (const auto& leaf : completed[position]) gradient_ready(Tensor<T>(leaf));
        // Every node that read this tensor has run (they come after it in `order`): unless a handle
        // outside the graph keeps it, its values go now, not at the end of backward.
        order[position].reset();
    }
}

}  // namespace detail

template <typename T>
void Tensor<T>::backward(const std::function<void(const Tensor<T>& leaf)>& gradient_ready) const {
    BABYGPT_CHECK(numel() == 1, "backward: needs a one-element tensor (a loss), got shape ", to_string(shape()));
    BABYGPT_CHECK(requires_grad(), "backward: this tensor does not require grad (no input of the graph ",
                  "requires grad, or it was computed under NoGradGuard)");
    BABYGPT_CHECK(is_leaf() || impl().grad_fn, "backward: the graph of this tensor was already freed by an ",
                  "earlier backward(); run the forward pass again");
    detail::backpropagate(impl_ptr(), Tensor<T>::ones(shape()), gradient_ready);  // d(loss)/d(loss) = 1
}

}  // namespace babygpt
