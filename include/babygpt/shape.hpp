#pragma once
// Shape: the sizes of a tensor's dimensions, outermost first (row-major), e.g. (B, T, C).

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "babygpt/error.hpp"

namespace babygpt {

using Shape = std::vector<std::int64_t>;

/// "(2,3,4)"; "()" for a 0-d shape; "(5,)" for 1-d, as Python prints them.
inline std::string to_string(const Shape& shape) {
    std::string s = "(";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) s += ",";
        s += std::to_string(shape[i]);
    }
    if (shape.size() == 1) s += ",";
    return s + ")";
}

namespace detail {

/// a * b for non-negative a and b, or false if the product does not fit in an int64.
inline bool multiply_fits(std::int64_t a, std::int64_t b, std::int64_t& product) {
#if defined(__GNUC__) || defined(__clang__)
    return !__builtin_mul_overflow(a, b, &product);
#else
    if (b != 0 && a > INT64_MAX / b) return false;
    product = a * b;
    return true;
#endif
}

[[noreturn]] inline void throw_bad_shape(const Shape& shape) {
    // Rank and the first dimensions only: the shape may come from a hostile file.
    Shape shown(shape.begin(), shape.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(shape.size(), 8)));
    std::string text = to_string(shown);
    if (shown.size() < shape.size()) text.insert(text.size() - 1, ",... " + std::to_string(shape.size()) + " dims");
    for (std::int64_t d : shape)
        if (d < 0) throw_error("shape ", text, " has a negative dimension (", d, "); sizes must be >= 0");
    throw_error("shape ", text, " has too many elements (the product overflows a 64-bit integer); use smaller sizes");
}

}  // namespace detail

/// Number of elements of a tensor of this shape (1 for the 0-d shape ()). Throws babygpt::Error if a
/// dimension is negative or the product overflows an int64: shapes can come from files.
inline std::int64_t numel(const Shape& shape) {
    std::int64_t n = 1;
    for (std::int64_t d : shape)  // one well-predicted branch per dimension: cheap on the hot path
        if (d < 0 || !detail::multiply_fits(n, d, n)) detail::throw_bad_shape(shape);
    return n;
}

/// The product of all dimensions but the last: the rows of the (rows, last) matrix view of a tensor,
/// (B, T, C) -> B*T. (Not numel / last: with a last dimension of 0 that would lose the rows.)
inline std::int64_t leading_numel(const Shape& shape) {
    return shape.empty() ? 1 : numel(Shape(shape.begin(), shape.end() - 1));
}

namespace detail {

/// Turns a possibly negative dimension index into 0..rank-1, or throws naming the op.
inline std::size_t normalize_dim(const char* op, std::int64_t dim, std::size_t rank) {
    const auto r = static_cast<std::int64_t>(rank);
    BABYGPT_CHECK(dim >= -r && dim < r, op, ": dimension ", dim, " is out of range for a ", rank,
                  "-d tensor");
    return static_cast<std::size_t>(dim < 0 ? dim + r : dim);
}

inline Shape without_leading_ones(const Shape& shape) {
    std::size_t first = 0;
    while (first < shape.size() && shape[first] == 1) ++first;
    return Shape(shape.begin() + static_cast<std::ptrdiff_t>(first), shape.end());
}

/// True if `small` (leading 1s dropped) equals the trailing dimensions of `large`.
inline bool is_trailing_shape(const Shape& small, const Shape& large) {
    const Shape s = without_leading_ones(small);
    if (s.size() > large.size()) return false;
    return std::equal(s.begin(), s.end(), large.end() - static_cast<std::ptrdiff_t>(s.size()));
}

}  // namespace detail
}  // namespace babygpt
