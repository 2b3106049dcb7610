#pragma once
// Dropout: in training, each element is zeroed with probability p and the survivors are scaled by
// 1 / (1 - p), so the expected value is unchanged; in evaluation it is the identity.
//
// The keep/drop decision of element i is a hash of (key, i), where the key is one draw from the
// caller's Generator. So a run is reproducible from its seed, backward recomputes the mask instead of
// storing it (no mask memory), and any thread can decide any element.

#include <cstdint>

#include "babygpt/autograd.hpp"
#include "babygpt/parallel.hpp"
#include "babygpt/profiler.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt {

namespace detail {

/// The finaliser of splitmix64: a fast 64-bit mix whose outputs pass statistical tests of randomness.
inline std::uint64_t mix64(std::uint64_t x) {
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/// Which elements dropout keeps: element i survives when the top 53 bits of mix64(key + i * odd
/// constant), as a fraction of 2^53, are at least p.
struct DropoutMask {
    DropoutMask(double p, Generator& gen)
        : key(gen.next_u64()), threshold(static_cast<std::uint64_t>(p * 9007199254740992.0)) {}  // p * 2^53
    bool keep(std::uint64_t i) const { return (mix64(key + i * 0x9E3779B97F4A7C15ULL) >> 11) >= threshold; }

    std::uint64_t key;
    std::uint64_t threshold;
};

}  // namespace detail

template <typename T>
Tensor<T> dropout(const Tensor<T>& x, double p, bool training, Generator& gen) {
    profiler::Scope profile("dropout");
    BABYGPT_CHECK(p >= 0.0 && p <= 1.0, "dropout: probability must be in [0, 1], got ", p);
    if (!training || p == 0.0) return x;
    const detail::DropoutMask mask(p, gen);
    const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
    const std::int64_t n = x.numel();
    Tensor<T> y = Tensor<T>::empty(x.shape());
    const T* in = x.data();
    T* out = y.data();
    BABYGPT_OMP(parallel for schedule(static) if (n > 65536))
    for (std::int64_t i = 0; i < n; ++i) out[i] = mask.keep(static_cast<std::uint64_t>(i)) ? in[i] * scale : T(0);
    // The mask is recomputed from its hash, so backward never reads x: x's values can go (tensor.hpp).
    record(y, "dropout", {x}, [x = x.gradient_only(), mask, scale, n](const Tensor<T>& g) {
        auto target = x.grad_target(1, n);  // named, not a structured binding: OpenMP captures it below
        const bool accumulate = target.accumulate;
        T* gx = target.matrix.data();
        const T* gy = g.data();
        // Local copies, and two loops rather than one with the choice inside: the compiler then turns
        // each loop into SIMD code (with the captures read in place, a write to gx could change them).
        const detail::DropoutMask keep = mask;
        const T factor = scale;
        if (accumulate) {
            BABYGPT_OMP(parallel for schedule(static) if (n > 65536))
            for (std::int64_t i = 0; i < n; ++i) gx[i] += keep.keep(static_cast<std::uint64_t>(i)) ? gy[i] * factor : T(0);
        } else {
            BABYGPT_OMP(parallel for schedule(static) if (n > 65536))
            for (std::int64_t i = 0; i < n; ++i) gx[i] = keep.keep(static_cast<std::uint64_t>(i)) ? gy[i] * factor : T(0);
        }
    });
    return y;
}

}  // namespace babygpt
