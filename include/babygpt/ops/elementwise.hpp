#pragma once
// Elementwise arithmetic: add, sub, mul, div of two tensors (with broadcasting over leading dimensions)
// and of a tensor and a scalar, plus the C++ operators that spell them.
//
// Broadcasting rule: after dropping leading 1s, the smaller shape must equal the trailing dimensions of
// the larger one, e.g. (B, T, C) + (C), (B, T, C) + (T, C), (B, T, C) * (). The larger tensor is viewed
// as a (repeat, inner) matrix and the smaller one as an (inner) row that every matrix row meets.
// In backward, the smaller operand's gradient is the sum over those repeated rows.

#include <type_traits>

#include "babygpt/autograd.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

enum class BinaryOp { add, sub, mul, div };

inline const char* binary_op_name(BinaryOp op) {
    switch (op) {
        case BinaryOp::add: return "add";
        case BinaryOp::sub: return "sub";
        case BinaryOp::mul: return "mul";
        default: return "div";
    }
}

inline const char* binary_op_symbol(BinaryOp op) {
    switch (op) {
        case BinaryOp::add: return "+";
        case BinaryOp::sub: return "-";
        case BinaryOp::mul: return "*";
        default: return "/";
    }
}

/// Row-major (rows, cols) and (1, cols) views of a tensor's data, for the broadcasting ops.
template <typename T>
using ArrayRows = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>;
template <typename T>
using ArrayRow = Eigen::Map<Eigen::Array<T, 1, Eigen::Dynamic>>;

/// How the operands of a binary op broadcast: the larger one seen as (repeat, inner) rows, the smaller
/// as one (1, inner) row repeated over them. With equal sizes the operand of higher rank is the larger:
/// (3) + (1, 3) is (1, 3) either way round.
struct Broadcast {
    bool a_is_large;
    std::int64_t repeat, inner;
};

template <typename T>
Broadcast broadcast_of(BinaryOp op, const Tensor<T>& a, const Tensor<T>& b) {
    const bool a_is_large = a.numel() > b.numel() || (a.numel() == b.numel() && a.dim() >= b.dim());
    const Tensor<T>& large = a_is_large ? a : b;
    const Tensor<T>& small = a_is_large ? b : a;
    BABYGPT_CHECK(is_trailing_shape(small.shape(), large.shape()), binary_op_name(op), ": ",
                  to_string(a.shape()), " ", binary_op_symbol(op), " ", to_string(b.shape()),
                  ": shapes do not broadcast (the smaller shape must equal the trailing dimensions of the larger)");
    const std::int64_t inner = small.numel();
    return {a_is_large, inner == 0 ? 0 : large.numel() / inner, inner};
}

template <typename T>
Tensor<T> binary(BinaryOp op, const Tensor<T>& a, const Tensor<T>& b) {
    profiler::Scope profile(binary_op_name(op));
    const Broadcast shape = broadcast_of(op, a, b);
    const bool a_is_large = shape.a_is_large;
    const std::int64_t repeat = shape.repeat, inner = shape.inner;
    const Tensor<T>& large = a_is_large ? a : b;
    const Tensor<T>& small = a_is_large ? b : a;

    Tensor<T> out = Tensor<T>::empty(large.shape());
    ArrayRows<T> L(large.data(), repeat, inner), O(out.data(), repeat, inner);  // (repeat, inner)
    ArrayRow<T> S(small.data(), inner);                                          // (1, inner), broadcast
    // For the non-commutative ops, the order of the operands matters: a op b.
    switch (op) {
        case BinaryOp::add: O = L.rowwise() + S; break;
        case BinaryOp::mul: O = L.rowwise() * S; break;
        case BinaryOp::sub:
            if (a_is_large) O = L.rowwise() - S;
            else O = (-L).rowwise() + S;
            break;
        case BinaryOp::div:
            if (a_is_large) O = L.rowwise() / S;
            else O = L.inverse().rowwise() * S;
            break;
    }

    // The backward of add and sub never reads the operands, only sends them gradients: it keeps
    // gradient_only() handles, and an operand nothing else reads (a dropout's output added to the
    // residual stream) goes back to the pool as soon as the forward moves on.
    const bool reads_operands = op == BinaryOp::mul || op == BinaryOp::div;
    record(out, binary_op_name(op), {a, b}, [op, a = reads_operands ? a : a.gradient_only(),
                                              b = reads_operands ? b : b.gradient_only(), a_is_large, repeat,
                                              inner](const Tensor<T>& g) {
        // d(out)/d(large) has the full shape; d(out)/d(small) is summed over the repeated rows.
        const Tensor<T>& large = a_is_large ? a : b;
        const Tensor<T>& small = a_is_large ? b : a;
        ArrayRows<T> G(g.data(), repeat, inner), L(large.data(), repeat, inner);  // L, S: mul and div only
        ArrayRow<T> S(small.data(), inner);
        const bool large_needs = large.requires_grad();
        const bool small_needs = small.requires_grad();
        // Sign/scale of the gradient w.r.t. a and b for add/sub.
        const T sign_large = (op == BinaryOp::sub && !a_is_large) ? T(-1) : T(1);
        const T sign_small = (op == BinaryOp::sub && a_is_large) ? T(-1) : T(1);
        switch (op) {
            case BinaryOp::add:
            case BinaryOp::sub:
                if (large_needs) large.add_to_grad(repeat, inner, sign_large * G);  // e.g. the residual stream
                if (small_needs) small.add_to_grad(1, inner, sign_small * G.colwise().sum());
                break;
            case BinaryOp::mul:
                if (large_needs) large.add_to_grad(repeat, inner, G.rowwise() * S);
                if (small_needs) small.add_to_grad(1, inner, (G * L).colwise().sum());
                break;
            case BinaryOp::div:
                if (a_is_large) {  // out = L / S: dL = g / S, dS = -g L / S^2
                    if (large_needs) large.add_to_grad(repeat, inner, G.rowwise() / S);
                    if (small_needs) small.add_to_grad(1, inner, -((G * L).colwise().sum() / S.square()));
                } else {  // out = S / L: dS = sum(g / L), dL = -g S / L^2
                    if (large_needs) large.add_to_grad(repeat, inner, -((G / L.square()).rowwise() * S));
                    if (small_needs) small.add_to_grad(1, inner, (G / L).colwise().sum());
                }
                break;
        }
    });
    return out;
}

}  // namespace detail

template <typename T>
Tensor<T> add(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary(detail::BinaryOp::add, a, b); }
template <typename T>
Tensor<T> sub(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary(detail::BinaryOp::sub, a, b); }
template <typename T>
Tensor<T> mul(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary(detail::BinaryOp::mul, a, b); }
template <typename T>
Tensor<T> div(const Tensor<T>& a, const Tensor<T>& b) { return detail::binary(detail::BinaryOp::div, a, b); }

/// a + s
template <typename T>
Tensor<T> add_scalar(const Tensor<T>& a, T s) {
    Tensor<T> out = Tensor<T>::empty(a.shape());
    out.array() = a.array() + s;
    record(out, "add_scalar", {a}, [a = a.gradient_only()](const Tensor<T>& g) { a.add_to_grad(g.array()); });
    return out;
}

/// a * s
template <typename T>
Tensor<T> mul_scalar(const Tensor<T>& a, T s) {
    Tensor<T> out = Tensor<T>::empty(a.shape());
    out.array() = a.array() * s;
    record(out, "mul_scalar", {a}, [a = a.gradient_only(), s](const Tensor<T>& g) { a.add_to_grad(g.array() * s); });
    return out;
}

/// s / a
template <typename T>
Tensor<T> rdiv_scalar(T s, const Tensor<T>& a) {
    Tensor<T> out = Tensor<T>::empty(a.shape());
    out.array() = s / a.array();
    record(out, "rdiv_scalar", {a}, [a, s](const Tensor<T>& g) {
        a.add_to_grad(-(g.array() * s / a.array().square()));  // d(s / a) = -s / a^2
    });
    return out;
}

template <typename T>
Tensor<T> neg(const Tensor<T>& a) { return mul_scalar(a, T(-1)); }

// ---- operators ---------------------------------------------------------------------------------------
// Scalars of any arithmetic type are converted to the tensor's scalar type: x * 0.5 works for Tensorf.

template <typename T>
Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return add(a, b); }
template <typename T>
Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return sub(a, b); }
template <typename T>
Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return mul(a, b); }
template <typename T>
Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return div(a, b); }
template <typename T>
Tensor<T> operator-(const Tensor<T>& a) { return neg(a); }

template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator+(const Tensor<T>& a, S s) { return add_scalar(a, static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator+(S s, const Tensor<T>& a) { return add_scalar(a, static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator-(const Tensor<T>& a, S s) { return add_scalar(a, -static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator-(S s, const Tensor<T>& a) { return add_scalar(neg(a), static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator*(const Tensor<T>& a, S s) { return mul_scalar(a, static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator*(S s, const Tensor<T>& a) { return mul_scalar(a, static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator/(const Tensor<T>& a, S s) { return mul_scalar(a, T(1) / static_cast<T>(s)); }
template <typename T, typename S, typename = std::enable_if_t<std::is_arithmetic_v<S>>>
Tensor<T> operator/(S s, const Tensor<T>& a) { return rdiv_scalar(static_cast<T>(s), a); }

}  // namespace babygpt
