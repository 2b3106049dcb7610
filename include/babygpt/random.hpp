#pragma once
// Generator: a seeded source of random numbers whose output is the same on every platform.
// std::mt19937_64 is fully specified by the standard, but std::normal_distribution and friends are not,
// so the distributions are written here on top of the raw 64-bit engine.

#include <cmath>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>

#include "babygpt/error.hpp"

namespace babygpt {

/// A seeded random generator. Its whole state can be saved as text and restored (for exact resumes).
///
///     babygpt::Generator gen(42);
///     double u = gen.uniform();        // [0, 1)
///     double z = gen.normal();         // N(0, 1)
///     std::int64_t i = gen.randint(10);  // 0..9
class Generator {
public:
    explicit Generator(std::uint64_t seed = 42) : engine_(seed) {}

    void seed(std::uint64_t s) { engine_.seed(s); }

    /// Raw 64 random bits.
    std::uint64_t next_u64() { return engine_(); }

    /// Uniform double in [0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }

    /// Uniform double in [low, high).
    double uniform(double low, double high) { return low + (high - low) * uniform(); }

    /// Standard normal N(0, 1) by the Box-Muller transform (one draw per call, so the state stays simple).
    double normal() {
        const double u1 = 1.0 - uniform();  // (0, 1]: log is finite
        const double u2 = uniform();
        return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
    }

    /// Uniform integer in [0, n), unbiased (rejection of the incomplete top range).
    std::int64_t randint(std::int64_t n) {
        BABYGPT_CHECK(n > 0, "Generator::randint: the range size must be positive, got ", n);
        const auto range = static_cast<std::uint64_t>(n);
        const std::uint64_t limit = UINT64_MAX - UINT64_MAX % range;
        std::uint64_t x;
        do {
            x = engine_();
        } while (x >= limit);
        return static_cast<std::int64_t>(x % range);
    }

    /// The full engine state as text (the standard's stream format for mersenne_twister_engine).
    std::string state() const {
        std::ostringstream out;
        out << engine_;
        return out.str();
    }

    /// Restores a state produced by state(); throws if the text is not one.
    void set_state(const std::string& text) {
        std::istringstream in(text);
        std::mt19937_64 restored;
        in >> restored;
        BABYGPT_CHECK(!in.fail(), "Generator::set_state: the text is not a saved generator state");
        engine_ = restored;
    }

private:
    std::mt19937_64 engine_;
};

/// The process-wide generator that modules draw their initial weights from when they are given none,
/// as PyTorch's default generator; seeded 42 until manual_seed(). Like any Generator it is not meant to
/// be drawn from by several threads at once.
///
///     babygpt::manual_seed(7);
///     double u = babygpt::default_generator().uniform();  // the same on every run and platform
inline Generator& default_generator() {
    static Generator generator(42);
    return generator;
}

/// Re-seeds the default generator, as torch::manual_seed: after it, modules built without a Generator
/// get the same weights on every run.
inline void manual_seed(std::uint64_t seed) { default_generator().seed(seed); }

}  // namespace babygpt
