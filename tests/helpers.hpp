// Small helpers shared by the unit tests: value checks, tensor factories, gradient checks and
// error-message capture.

#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "babygpt/error.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/nn/module.hpp"
#include "babygpt/random.hpp"
#include "babygpt/shape.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt_test {

using babygpt::Shape;
using babygpt::Tensor;
using babygpt::Tensord;

// ---- value checks --------------------------------------------------------------------------------

/// The relative tolerance for comparing a Tensor<T> against reference values: 1e-5 for float, 1e-12 for double.
template <typename T>
double tolerance() {
    return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

/// Checks t's shape, then each element against `expected` to relative tolerance `eps` (tolerance<T>() unless given).
template <typename T>
void check_values(const Tensor<T>& t, const Shape& shape, const std::vector<double>& expected,
                  double eps = tolerance<T>()) {
    REQUIRE(t.shape() == shape);
    REQUIRE(t.numel() == static_cast<std::int64_t>(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(static_cast<double>(t.data()[i]) == doctest::Approx(expected[i]).epsilon(eps));
    }
}

/// As check_values, but an infinite expected value must be matched exactly (same sign).
template <typename T>
void check_values_or_inf(const Tensor<T>& t, const Shape& shape, const std::vector<double>& expected) {
    REQUIRE(t.shape() == shape);
    REQUIRE(t.numel() == static_cast<std::int64_t>(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        if (std::isinf(expected[i])) CHECK(static_cast<double>(t.data()[i]) == expected[i]);
        else CHECK(static_cast<double>(t.data()[i]) == doctest::Approx(expected[i]).epsilon(tolerance<T>()));
    }
}

/// Checks t's shape, then each element for exact equality with `expected` (for pure data movement).
template <typename T>
void check_values_exact(const Tensor<T>& t, const Shape& shape, const std::vector<double>& expected) {
    REQUIRE(t.shape() == shape);
    REQUIRE(t.numel() == static_cast<std::int64_t>(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(static_cast<double>(t.data()[i]) == expected[i]);
    }
}

/// Checks each element of p (any shape) against `expected` to absolute tolerance `tol`.
inline void check_values_abs(const Tensord& p, const std::vector<double>& expected, double tol) {
    REQUIRE(p.numel() == static_cast<std::int64_t>(expected.size()));
    for (std::size_t i = 0; i < expected.size(); ++i) {
        CAPTURE(i);
        CHECK(std::abs(p.data()[i] - expected[i]) < tol);
    }
}

/// The largest absolute element-wise difference of two tensors of the same shape.
inline double max_abs_diff(const Tensord& a, const Tensord& b) {
    REQUIRE(a.shape() == b.shape());
    double m = 0;
    for (std::int64_t i = 0; i < a.numel(); ++i) m = std::max(m, std::abs(a.data()[i] - b.data()[i]));
    return m;
}

// ---- tensor factories ----------------------------------------------------------------------------

/// start, start + 1, ... in row-major order.
template <typename T>
Tensor<T> iota(const Shape& shape, T start = T(1)) {
    Tensor<T> t = Tensor<T>::empty(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i) t.data()[i] = start + static_cast<T>(i);
    return t;
}

/// scale * sin(a * i + b) + shift in row-major order; in torch:
/// (scale * torch.sin(a * torch.arange(n) + b) + shift).view(shape).
template <typename T>
Tensor<T> sin_seq(const Shape& shape, double a, double b, double scale = 1.0, double shift = 0.0) {
    Tensor<T> t = Tensor<T>::empty(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = static_cast<T>(scale * std::sin(a * static_cast<double>(i) + b) + shift);
    return t;
}

/// A leaf that requires grad, drawn from N(0, std^2) with a generator seeded `seed`.
inline Tensord param(const Shape& shape, std::uint64_t seed, double std = 1.0) {
    babygpt::Generator gen(seed);
    Tensord t = Tensord::randn(shape, gen, 0.0, std);
    t.requires_grad_();
    return t;
}

/// Sets p's gradient to exactly `g` (as `p.grad = torch.tensor(g)` does).
template <typename T>
void set_grad(const Tensor<T>& p, const std::vector<double>& g) {
    p.zero_grad();
    for (std::size_t i = 0; i < g.size(); ++i) p.grad_data()[i] = static_cast<T>(g[i]);
}

// ---- gradient checks -----------------------------------------------------------------------------

/// A function of the gradcheck inputs, as gradcheck takes it.
using Fn = std::function<Tensord(const std::vector<Tensord>&)>;

/// Runs gradcheck and checks it passes with a max absolute error below 1e-6 (its message shown on any failure).
inline void check_gradcheck(const Fn& f, const std::vector<Tensord>& inputs) {
    const babygpt::GradcheckResult r = babygpt::gradcheck(f, inputs);
    INFO(r.message);
    CHECK(r.ok);
    CHECK(r.max_abs_error < 1e-6);
}

/// As check_gradcheck, with the message shown only when gradcheck itself reports failure.
inline void require_gradcheck(const Fn& f, const std::vector<Tensord>& inputs) {
    const babygpt::GradcheckResult result = babygpt::gradcheck(f, inputs);
    CHECK_MESSAGE(result.ok, result.message);
    CHECK(result.max_abs_error < 1e-6);
}

/// x followed by all of m's parameters: the gradcheck inputs for a module applied to x.
inline std::vector<Tensord> with_parameters(const Tensord& x, const babygpt::nn::Module<double>& m) {
    std::vector<Tensord> inputs{x};
    for (const Tensord& p : m.parameters()) inputs.push_back(p);
    return inputs;
}

// ---- errors and messages -------------------------------------------------------------------------

/// The message of the babygpt::Error that `f` throws ("" if it throws none; other exceptions escape).
inline std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const babygpt::Error& e) {
        return e.what();
    }
    return "";
}

/// Whether this build runs under AddressSanitizer. Its operator new reports a request it cannot
/// meet and aborts, instead of throwing std::bad_alloc, so the out-of-memory path cannot be tested there.
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool under_address_sanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool under_address_sanitizer = true;
#else
inline constexpr bool under_address_sanitizer = false;
#endif
#else
inline constexpr bool under_address_sanitizer = false;
#endif

/// A safetensors file per the specification: the 8-byte little-endian header length, the header
/// text, then the data bytes (for tests that write headers by hand).
inline std::vector<unsigned char> safetensors_file(const std::string& header,
                                                   const std::vector<unsigned char>& data = {}) {
    std::vector<unsigned char> bytes;
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<unsigned char>((n >> (8 * i)) & 0xFF));
    bytes.insert(bytes.end(), header.begin(), header.end());
    bytes.insert(bytes.end(), data.begin(), data.end());
    return bytes;
}

/// Whether `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

/// The parameter and the three gradients of the optimizer tests; the expected trajectories were computed
/// by torch: p = torch.tensor(start, dtype=torch.float64); for g in grads: p.grad = g; opt.step()
inline const std::vector<double> optimizer_start{0.5, -1.0, 2.0, 0.0, -0.3};
inline const std::vector<std::vector<double>> optimizer_grads{{0.1, -0.2, 0.3, 0.0, 1.5},
                                                              {-0.4, 0.05, 0.3, 2.0, -1.0},
                                                              {0.7, 0.6, -0.1, -0.3, 0.25}};

/// Steps an optimizer through optimizer_grads from optimizer_start, checking the parameter after each step
/// against `expected` (1e-12); returns the optimizer for further checks of its state.
template <typename Optimizer, typename Options>
Optimizer check_optimizer_trajectory(const Options& options, const std::vector<std::vector<double>>& expected) {
    babygpt::Tensord p = babygpt::Tensord::from_data({5}, optimizer_start).requires_grad_();
    Optimizer opt({p}, options);
    for (std::size_t s = 0; s < optimizer_grads.size(); ++s) {
        CAPTURE(s);
        set_grad(p, optimizer_grads[s]);
        opt.step();
        check_values_abs(p, expected[s], 1e-12);
    }
    return opt;
}

}  // namespace babygpt_test
