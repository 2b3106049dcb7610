#pragma once
// with_constant: turns a run-time size into a compile-time one, for kernels that keep a row or a tile
// in registers and unroll their loops by its width.
//
//     bool fast = kernels::with_constant<64, 128, 256>(C, [&](auto width) {
//         normalise_rows<width()>(...);  // width is std::integral_constant<int, C>
//     });
//     if (!fast) normalise_rows_any_width(...);

#include <cstdint>
#include <type_traits>

namespace babygpt::kernels {

/// Calls f(std::integral_constant<int, N>()) for the one N among Choices that equals n and returns
/// true; returns false without calling f when n is none of them. f is compiled once per choice.
template <int... Choices, typename F>
bool with_constant(std::int64_t n, F&& f) {
    return ((n == Choices ? (f(std::integral_constant<int, Choices>()), true) : false) || ...);
}

}  // namespace babygpt::kernels
