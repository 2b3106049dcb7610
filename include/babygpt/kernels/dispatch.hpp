#pragma once
// with_constant: turns a run-time size into a compile-time one, for kernels that keep a row or a tile
// in registers and unroll their loops by its width. Each choice compiles the kernel once more; a size
// that is none of them takes the caller's general path.
//
//     int unrolled = 0;
//     bool fast = babygpt::kernels::with_constant<32, 64, 128>(64, [&](auto width) {
//         unrolled = width();  // width is std::integral_constant<int, 64>: usable as a template argument
//     });
//     // fast == true and unrolled == 64; with_constant<32, 64, 128>(100, ...) returns false

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
