#pragma once
// Tensor: an N-dimensional array with contiguous row-major storage, templated on the scalar.
//
// A Tensor is a cheap handle: copying one shares the same data (and the same autograd node), like a
// Python reference to a torch.Tensor. reshape() returns a view that shares the storage too; clone()
// copies. The compute goes through Eigen: matrix() and array() map the storage without copying, so a
// (B, T, C) tensor is a (B*T, C) row-major matrix for one GEMM.
//
//     using namespace babygpt;
//     Tensorf x = Tensorf::randn({4, 8, 32}, gen);        // (B, T, C)
//     Tensorf w = Tensorf::zeros({32, 16}).requires_grad_();
//     Tensorf y = matmul(x, w);                            // (B, T, 16), one GEMM
//     sum(y).backward();                                   // w.grad() is (32, 16)
//
// What it deliberately is not: there are no strides, so transpose() copies; there is no device but the CPU.
//
// Version counter: every storage counts its in-place modifications, and autograd uses the count to
// refuse a backward whose saved tensors changed after the forward (it would give wrong gradients
// without a word), like PyTorch's "modified by an inplace operation". copy_() and bump_version()
// count; raw writes through data(), at(), array() or matrix() cannot be seen, so code that changes a
// tensor that way while a graph may still need it calls bump_version() after the write. An optimizer
// step is such a change of the parameters (as in PyTorch): in the usual loop it comes after
// backward(), when the graph that read them is gone, and the next forward records the new versions.
//
// Memory of the forward pass: the graph's edges (autograd.hpp) keep each input's TensorImpl, for its
// gradient, but never read its data; nor do the handles a backward keeps only to send a gradient
// (gradient_only()). Both count as graph holds. When the last other handle of a tensor goes, whoever
// could still read its values is gone: the tensor lets go of its storage (back to the buffer pool), and
// the graph keeps only its shape and its gradient. That is how an intermediate that no backward reads
// (the input of a dropout, the input of a ReLU, whose backward reads the output) stops costing memory
// as soon as the forward has moved past it. Some values are worth computing again in backward rather
// than keeping (a LayerNorm's output, from its input that its own backward keeps): a backward that reads
// them holds them through recomputable() and reads them through values().

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <ostream>
#include <type_traits>
#include <vector>

#include <Eigen/Core>

#include "babygpt/kernels/buffer_pool.hpp"
#include "babygpt/error.hpp"
#include "babygpt/random.hpp"
#include "babygpt/shape.hpp"

namespace babygpt {

template <typename T>
struct Node;  // autograd.hpp: how a tensor was computed, and how its gradient flows back

/// A buffer with its version counter: how many times it was modified in place (copy_, bump_version).
/// Copies share both, so every view of the same memory (reshape, detach) sees one counter. One small
/// allocation per buffer for the counter, none per element.
template <typename T>
class Storage {
public:
    Storage() = default;
    /// Takes `buffer` over with a new counter at version 0. Implicit, so that a freshly allocated
    /// buffer can be assigned directly (impl->data = kernels::allocate_buffer<T>(n)).
    Storage(std::shared_ptr<T> buffer)  // NOLINT(google-explicit-constructor)
        : block_(buffer ? std::make_shared<Block>(Block{std::move(buffer), 0}) : nullptr),
          data_(block_ ? block_->buffer.get() : nullptr) {}

    T* get() const { return data_; }
    explicit operator bool() const { return data_ != nullptr; }
    void reset() { *this = Storage(); }

    std::uint64_t version() const { return block_ ? block_->version : 0; }
    void bump_version() const {
        if (block_) ++block_->version;
    }

private:
    struct Block {
        std::shared_ptr<T> buffer;
        std::uint64_t version;
    };
    std::shared_ptr<Block> block_;
    T* data_ = nullptr;  // block_->buffer.get(), cached: data() is on every op's path
};

/// The state a Tensor handle points to. Ops read and write it through Tensor's accessors.
template <typename T>
struct TensorImpl {
    Shape shape;
    std::int64_t size = 0;       // numel(shape), cached
    Storage<T> data;             // `size` elements, row-major; shared by reshape views and detach()
    Storage<T> grad;             // same size, allocated when the first gradient arrives
    bool requires_grad = false;
    bool is_leaf = true;         // false once an op records this tensor as its output
    std::shared_ptr<Node<T>> grad_fn;
    // References that never read `data`: graph edges and gradient_only() handles (see the top of this
    // file). Atomic, like the reference count it is compared with: two threads may record ops on the
    // same parameters.
    std::atomic<std::int64_t> graph_holds{0};
};

template <typename T>
class Tensor {
public:
    using Scalar = T;
    using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    using MatrixMap = Eigen::Map<Matrix>;
    using Array = Eigen::Array<T, Eigen::Dynamic, 1>;
    using ArrayMap = Eigen::Map<Array>;

    /// An undefined tensor (no storage); defined() is false.
    Tensor() = default;
    explicit Tensor(std::shared_ptr<TensorImpl<T>> impl) : impl_(std::move(impl)) {}
    Tensor(const Tensor& other) : impl_(other.impl_), gradient_only_(other.gradient_only_) {
        if (gradient_only_ && impl_) ++impl_->graph_holds;
    }
    Tensor(Tensor&& other) noexcept = default;  // the moved-from handle is undefined: nothing to count
    Tensor& operator=(Tensor other) noexcept {  // copy or move, then `other` takes the old one away
        std::swap(impl_, other.impl_);
        std::swap(gradient_only_, other.gradient_only_);
        return *this;
    }
    ~Tensor() {
        if (!impl_) return;
        if (gradient_only_) {
            --impl_->graph_holds;
        } else if (impl_->graph_holds > 0 && impl_.use_count() == 1 + impl_->graph_holds) {
            impl_->data.reset();  // the last handle that could read the values: only the graph holds it now
        }
    }

    // ---- factories -------------------------------------------------------------------------------

    /// Uninitialised storage: for op outputs that are fully written right away.
    static Tensor empty(const Shape& shape) {
        for (std::int64_t d : shape)
            BABYGPT_CHECK(d >= 0, "Tensor: negative dimension in shape ", to_string(shape));
        auto impl = std::make_shared<TensorImpl<T>>();
        impl->shape = shape;
        impl->size = babygpt::numel(shape);
        impl->data = kernels::allocate_buffer<T>(static_cast<std::size_t>(impl->size));
        return Tensor(std::move(impl));
    }
    static Tensor full(const Shape& shape, T value) {
        Tensor t = empty(shape);
        std::fill_n(t.data(), t.numel(), value);
        return t;
    }
    static Tensor zeros(const Shape& shape) { return full(shape, T(0)); }
    static Tensor ones(const Shape& shape) { return full(shape, T(1)); }
    static Tensor scalar(T value) { return full({}, value); }

    /// Copies `values` (row-major) into a tensor of `shape`; their count must match.
    static Tensor from_data(const Shape& shape, const std::vector<T>& values) {
        Tensor t = empty(shape);
        BABYGPT_CHECK(static_cast<std::int64_t>(values.size()) == t.numel(), "Tensor::from_data: shape ",
                      to_string(shape), " needs ", t.numel(), " values, got ", values.size());
        std::copy(values.begin(), values.end(), t.data());
        return t;
    }
    static Tensor from_data(const Shape& shape, std::initializer_list<T> values) {
        return from_data(shape, std::vector<T>(values));
    }

    /// 0, 1, ..., n-1 as a 1-d tensor.
    static Tensor arange(std::int64_t n) {
        Tensor t = empty({n});
        for (std::int64_t i = 0; i < n; ++i) t.data()[i] = static_cast<T>(i);
        return t;
    }

    /// Independent N(mean, std^2) samples, drawn in row-major order.
    static Tensor randn(const Shape& shape, Generator& gen, double mean = 0.0, double std = 1.0) {
        Tensor t = empty(shape);
        for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(mean + std * gen.normal());
        return t;
    }

    /// Independent U[low, high) samples, drawn in row-major order.
    static Tensor rand(const Shape& shape, Generator& gen, double low = 0.0, double high = 1.0) {
        Tensor t = empty(shape);
        for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<T>(gen.uniform(low, high));
        return t;
    }

    // ---- shape and data --------------------------------------------------------------------------

    bool defined() const { return impl_ != nullptr; }
    const Shape& shape() const { return impl().shape; }
    std::size_t dim() const { return impl().shape.size(); }
    /// Size of one dimension; negative counts from the end (size(-1) is the last).
    std::int64_t size(std::int64_t d) const { return shape()[detail::normalize_dim("size", d, dim())]; }
    std::int64_t numel() const { return impl().size; }

    T* data() const { return impl().data.get(); }

    /// Element access for tests and small loops: t.at({b, t, c}); bounds are checked.
    T& at(std::initializer_list<std::int64_t> index) const {
        BABYGPT_CHECK(index.size() == dim(), "Tensor::at: ", index.size(), " indices for shape ",
                      to_string(shape()));
        std::int64_t offset = 0;
        std::size_t d = 0;
        for (std::int64_t i : index) {
            BABYGPT_CHECK(i >= 0 && i < shape()[d], "Tensor::at: index ", i, " is out of range for dimension ",
                          d, " of shape ", to_string(shape()));
            offset = offset * shape()[d] + i;
            ++d;
        }
        return data()[offset];
    }
    template <typename... Index>
    T& operator()(Index... index) const {
        return at({static_cast<std::int64_t>(index)...});
    }

    /// The value of a one-element tensor.
    T item() const {
        BABYGPT_CHECK(numel() == 1, "Tensor::item: needs exactly one element, the shape is ", to_string(shape()));
        return data()[0];
    }

    std::vector<T> to_vector() const { return std::vector<T>(data(), data() + numel()); }

    // ---- Eigen views (no copies) -----------------------------------------------------------------

    /// The storage as a (numel / size(-1), size(-1)) row-major matrix: (B, T, C) -> (B*T, C).
    MatrixMap matrix() const {
        const std::int64_t cols = dim() == 0 ? 1 : shape().back();
        return MatrixMap(data(), leading_numel(shape()), cols);
    }
    /// The storage as a rows x cols row-major matrix (rows * cols must equal numel()).
    MatrixMap matrix(std::int64_t rows, std::int64_t cols) const {
        BABYGPT_CHECK(rows * cols == numel(), "Tensor::matrix: ", rows, "x", cols, " does not fit shape ",
                      to_string(shape()));
        return MatrixMap(data(), rows, cols);
    }
    /// The storage as a flat Eigen array, for elementwise expressions.
    ArrayMap array() const { return ArrayMap(data(), numel()); }

    // ---- autograd --------------------------------------------------------------------------------

    bool requires_grad() const { return impl().requires_grad; }
    /// Marks a leaf tensor as a parameter whose gradient backward() should compute; returns *this.
    Tensor& requires_grad_(bool on = true) {
        BABYGPT_CHECK(impl().is_leaf, "requires_grad_: only leaf tensors can be marked; this one was computed by ",
                      "an op (detach() it first)");
        impl_->requires_grad = on;
        return *this;
    }
    bool is_leaf() const { return impl().is_leaf; }

    /// The accumulated gradient (same shape; shares the gradient buffer), or an undefined tensor if
    /// no gradient has arrived since the last zero_grad().
    Tensor grad() const {
        if (!impl().grad) return Tensor();
        auto g = std::make_shared<TensorImpl<T>>();
        g->shape = impl_->shape;
        g->size = impl_->size;
        g->data = impl_->grad;
        return Tensor(std::move(g));
    }
    /// Drops the gradient; the next backward() starts from zero.
    void zero_grad() const { impl().grad.reset(); }

    // Writing gradients follows one rule (autograd.hpp): a whole contribution goes through
    // add_to_grad() or grad_target(), a scattered one into the zero-filled grad_data()/grad_matrix().

    /// Whether a gradient buffer exists (something was accumulated since the last zero_grad()).
    bool has_grad() const { return static_cast<bool>(impl().grad); }

    /// Where a backward that writes a whole contribution itself puts it (a kernel, or a loop over
    /// blocks): the gradient as a rows x cols matrix, and whether to add to it. Without a gradient yet,
    /// the buffer is new and left uninitialised, to be assigned: no zero fill and no read of zeros.
    struct GradTarget {
        MatrixMap matrix;
        bool accumulate;
        /// Adds `contribution` to `part` (matrix itself, or a block of it), or assigns it to a new buffer.
        template <typename Part, typename Expr>
        void write(Part&& part, const Expr& contribution) const {
            if (accumulate) part += contribution;
            else part = contribution;
        }
    };
    GradTarget grad_target(std::int64_t rows, std::int64_t cols) const {
        BABYGPT_CHECK(rows * cols == numel(), "Tensor::grad_target: ", rows, "x", cols, " does not fit shape ",
                      to_string(shape()));
        const bool accumulate = has_grad();
        if (!accumulate) impl_->grad = kernels::allocate_buffer<T>(static_cast<std::size_t>(impl_->size));
        return {MatrixMap(impl_->grad.get(), rows, cols), accumulate};
    }
    /// Adds `contribution` (an Eigen matrix or array expression of rows x cols) to the gradient, or
    /// assigns it if this is the first (see grad_target).
    template <typename Expr>
    void add_to_grad(std::int64_t rows, std::int64_t cols, const Expr& contribution) const {
        GradTarget target = grad_target(rows, cols);  // not const: a const Map would be read-only
        if constexpr (std::is_base_of_v<Eigen::ArrayBase<Expr>, Expr>)
            target.write(target.matrix.array(), contribution);
        else
            target.write(target.matrix, contribution);
    }
    /// The same for an array expression over the whole tensor, numel() elements in storage order:
    /// x.add_to_grad(g.array() * x.array()).
    template <typename Expr>
    void add_to_grad(const Expr& contribution) const {
        static_assert(std::is_base_of_v<Eigen::ArrayBase<Expr>, Expr>, "add_to_grad(contribution): pass an "
                      "Eigen array expression, or a matrix one with add_to_grad(rows, cols, contribution)");
        BABYGPT_CHECK(contribution.size() == numel(), "Tensor::add_to_grad: ", contribution.size(),
                      " values for shape ", to_string(shape()));
        add_to_grad(numel(), 1, contribution);
    }

    /// add_to_grad(contribution) for an elementwise backward whose incoming gradient `g` has this
    /// tensor's shape: when no gradient has arrived here yet, `contribution` (which may read g, element
    /// by element) is written over g and g's buffer becomes this tensor's gradient, with no new buffer
    /// (an op's incoming gradient is its output's, which backward drops right after the op's node).
    template <typename Expr>
    void add_to_grad_over(const Tensor& g, const Expr& contribution) const {
        if (has_grad() || g.numel() != numel()) return add_to_grad(contribution);
        g.array() = contribution;
        impl_->grad = g.impl().data;
    }

    /// The gradient buffer, allocated and zero-filled on first use: for scattered contributions (only
    /// some elements or rows receive one, e.g. an embedding's looked-up rows).
    T* grad_data() const {
        if (!impl_->grad) {
            impl_->grad = kernels::allocate_buffer<T>(static_cast<std::size_t>(impl_->size));
            std::fill_n(impl_->grad.get(), impl_->size, T(0));
        }
        return impl_->grad.get();
    }
    /// grad_data() as a rows x cols matrix, for scattered contributions by row.
    MatrixMap grad_matrix(std::int64_t rows, std::int64_t cols) const {
        return MatrixMap(grad_data(), rows, cols);
    }
    /// The gradient as a flat array (zeros if none arrived), for reading it: tests, optimizers.
    /// Backward functions write through add_to_grad() instead.
    ArrayMap grad_array() const { return ArrayMap(grad_data(), numel()); }

    /// Back-propagates from this one-element tensor into every tensor that requires grad (autograd.hpp).
    void backward() const { backward(nullptr); }
    /// The same, calling gradient_ready(leaf) as soon as a leaf's gradient is complete (no op still to
    /// run adds to it), while the rest of backward goes on: data-parallel training starts summing those
    /// gradients across processes there. Leaves that no op of the graph reads get no call.
    void backward(const std::function<void(const Tensor& leaf)>& gradient_ready) const;

    /// The same tensor for a backward that only sends it a gradient (add_to_grad, grad_target, ...)
    /// and never reads its values: this handle does not keep the values alive (see the top of this file).
    Tensor gradient_only() const {
        Tensor t(impl_);
        t.gradient_only_ = true;
        if (impl_) ++impl_->graph_holds;
        return t;
    }

    /// The same tensor for a backward that reads its values: a handle that keeps them, unless the op
    /// that computed them can compute them again (autograd.hpp, recompute_on_demand); then the handle is
    /// a graph hold, and the backward reads the values through values().
    Tensor recomputable() const;
    /// The values: this tensor if it has them, else a recomputed copy (see recomputable()).
    Tensor values() const;

    /// The same data, cut from the graph: no grad_fn, requires_grad false.
    Tensor detach() const {
        auto d = std::make_shared<TensorImpl<T>>();
        d->shape = impl().shape;
        d->size = impl_->size;
        d->data = impl_->data;
        return Tensor(std::move(d));
    }
    /// A deep copy of the data (not recorded by autograd).
    Tensor clone() const {
        Tensor c = empty(shape());
        std::copy_n(data(), numel(), c.data());
        return c;
    }
    /// Copies `source`'s values into this tensor's storage (same shape), e.g. to load weights.
    /// An in-place change: it bumps the version (see the top of this file).
    void copy_(const Tensor& source) const {
        BABYGPT_CHECK(source.shape() == shape(), "Tensor::copy_: shape ", to_string(source.shape()),
                      " does not match ", to_string(shape()));
        std::copy_n(source.data(), numel(), data());
        bump_version();
    }

    /// How many in-place changes the storage has seen (shared with views of it); starts at 0.
    std::uint64_t version() const { return impl().data.version(); }
    /// Counts an in-place change made through data(), at(), array() or matrix(), which the tensor cannot
    /// see: a backward that saved this tensor before the change then refuses to run instead of giving
    /// wrong gradients.
    void bump_version() const { impl().data.bump_version(); }

    const std::shared_ptr<TensorImpl<T>>& impl_ptr() const { return impl_; }
    TensorImpl<T>& impl() const {
        BABYGPT_CHECK(impl_ != nullptr, "Tensor: use of an undefined tensor");
        return *impl_;
    }

private:
    std::shared_ptr<TensorImpl<T>> impl_;
    bool gradient_only_ = false;  // a graph hold (gradient_only()), not a reader of the values
};

using Tensorf = Tensor<float>;         ///< the everyday tensor
using Tensord = Tensor<double>;        ///< for gradient checks
using IndexTensor = Tensor<std::int64_t>;  ///< token ids and targets

template <typename T>
std::ostream& operator<<(std::ostream& out, const Tensor<T>& t) {
    out << "tensor" << to_string(t.shape()) << " [";
    const std::int64_t shown = std::min<std::int64_t>(t.numel(), 16);
    for (std::int64_t i = 0; i < shown; ++i) out << (i ? ", " : "") << t.data()[i];
    if (shown < t.numel()) out << ", ...";
    return out << "]";
}

}  // namespace babygpt

#include "babygpt/autograd.hpp"
