// Tests for bf16_products.hpp and kernels/bf16_gemm.hpp: float32 -> bf16 rounding; each product of a
// linear layer under a Bf16ProductsGuard equals the float64 product of the bf16-rounded operands (up to
// float32 summation) and stays within bf16's precision of the float32 product; what the guard leaves
// alone (double tensors, the output layer fused with the loss); the same result at any thread count;
// and, where bf16 products cannot run, the error that says why.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/bf16_products.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

/// A float tensor of the given shape with values spread over a few orders of magnitude, both signs.
Tensorf bf16_test_values(const Shape& shape, double phase) {
    Tensorf t = Tensorf::empty(shape);
    for (std::int64_t i = 0; i < t.numel(); ++i)
        t.data()[i] = static_cast<float>(std::sin(0.37 * static_cast<double>(i) + phase) *
                                         std::exp(std::cos(1.3 * static_cast<double>(i) + phase)));
    return t;
}

/// The bf16 rounding of every element, as doubles.
std::vector<double> rounded(const Tensorf& t) {
    std::vector<double> out(static_cast<std::size_t>(t.numel()));
    for (std::int64_t i = 0; i < t.numel(); ++i)
        out[static_cast<std::size_t>(i)] = kernels::from_bf16(kernels::to_bf16(t.data()[i]));
    return out;
}

/// (n, m) row-major A times B^T, B (p, m): the float64 product of already-rounded operands.
std::vector<double> times_transposed(const std::vector<double>& A, const std::vector<double>& B, std::int64_t n,
                                     std::int64_t m, std::int64_t p) {
    std::vector<double> out(static_cast<std::size_t>(n * p), 0.0);
    for (std::int64_t i = 0; i < n; ++i)
        for (std::int64_t j = 0; j < p; ++j)
            for (std::int64_t k = 0; k < m; ++k)
                out[static_cast<std::size_t>(i * p + j)] +=
                    A[static_cast<std::size_t>(i * m + k)] * B[static_cast<std::size_t>(j * m + k)];
    return out;
}

/// (rows, cols) row-major transpose.
std::vector<double> transposed(const std::vector<double>& A, std::int64_t rows, std::int64_t cols) {
    std::vector<double> out(A.size());
    for (std::int64_t r = 0; r < rows; ++r)
        for (std::int64_t c = 0; c < cols; ++c)
            out[static_cast<std::size_t>(c * rows + r)] = A[static_cast<std::size_t>(r * cols + c)];
    return out;
}

/// The largest |a - b| relative to the largest |b|.
double relative_difference(const Tensorf& a, const std::vector<double>& b) {
    double diff = 0, scale = 0;
    for (std::int64_t i = 0; i < a.numel(); ++i) {
        diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - b[static_cast<std::size_t>(i)]));
        scale = std::max(scale, std::abs(b[static_cast<std::size_t>(i)]));
    }
    return diff / scale;
}

std::vector<double> as_doubles(const Tensorf& t) { return std::vector<double>(t.data(), t.data() + t.numel()); }

}  // namespace

TEST_CASE("bf16: rounding to nearest, ties to even; NaN and infinity kept") {
    using kernels::from_bf16;
    using kernels::to_bf16;
    CHECK(to_bf16(1.0f) == 0x3F80);
    CHECK(to_bf16(-2.0f) == 0xC000);
    // bf16 keeps 7 mantissa bits: between 1 and 1 + 2^-7 the halfway point 1 + 2^-8 goes to the even one.
    CHECK(to_bf16(1.0f + std::ldexp(1.0f, -8)) == 0x3F80);
    CHECK(to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)) == 0x3F82);  // halfway between 0x3F81 and 0x3F82: even
    CHECK(to_bf16(1.0f + std::ldexp(1.0f, -8) + std::ldexp(1.0f, -20)) == 0x3F81);  // past halfway: up
    CHECK(from_bf16(to_bf16(0.15625f)) == 0.15625f);                                  // exact in bf16
    CHECK(std::isnan(from_bf16(to_bf16(std::numeric_limits<float>::quiet_NaN()))));
    CHECK(from_bf16(to_bf16(std::numeric_limits<float>::infinity())) == std::numeric_limits<float>::infinity());
    CHECK(from_bf16(to_bf16(std::numeric_limits<float>::max())) == std::numeric_limits<float>::infinity());
    for (float x : {0.1f, -3.7f, 1e-20f, 6.5e4f}) CHECK(std::abs(from_bf16(to_bf16(x)) - x) <= std::abs(x) / 256);
}

TEST_CASE("bf16: where bf16 products cannot run, the guard refuses with the reason") {
    std::string why_not;
    if (bf16_products_available(&why_not)) {
        CHECK(why_not.empty());
        return;
    }
    CHECK(!why_not.empty());
    const std::string error = error_of([] { Bf16ProductsGuard bf16; });
    CHECK(contains(error, "bf16 products are not available"));
    CHECK(contains(error, why_not));
    CHECK(!Bf16Products::is_enabled());
}

TEST_CASE("bf16: a linear layer's output and gradients are products of bf16-rounded operands") {
    if (!bf16_products_available()) return;  // the case above checks the error
    const std::int64_t N = 37, in = 53, out = 29;  // odd sizes: no kernel's tile fits exactly
    const Tensorf x0 = bf16_test_values({N, in}, 0.1), W0 = bf16_test_values({out, in}, 0.7),
                  b0 = bf16_test_values({out}, 1.9), g = bf16_test_values({N, out}, 2.3);

    auto run = [&](bool bf16) {
        Bf16ProductsGuard guard(bf16);
        Tensorf x = x0.clone().requires_grad_(), W = W0.clone().requires_grad_(), b = b0.clone().requires_grad_();
        Tensorf y = linear(x, W, b);
        sum(y * g).backward();  // the gradient arriving at y is g
        return std::vector<Tensorf>{y.detach(), x.grad(), W.grad(), b.grad()};
    };
    const std::vector<Tensorf> bf16 = run(true), fp32 = run(false);
    CHECK(!Bf16Products::is_enabled());  // the guard put the flag back

    // y = X W^T + b, dX = G W, dW = G^T X, each from the rounded operands, summed in float64.
    std::vector<double> y = times_transposed(rounded(x0), rounded(W0), N, in, out);
    for (std::int64_t i = 0; i < N * out; ++i) y[static_cast<std::size_t>(i)] += b0.data()[i % out];
    const std::vector<double> dX = times_transposed(rounded(g), transposed(rounded(W0), out, in), N, out, in);
    const std::vector<double> dW =
        times_transposed(transposed(rounded(g), N, out), transposed(rounded(x0), N, in), out, N, in);
    CHECK(relative_difference(bf16[0], y) < 1e-6);
    CHECK(relative_difference(bf16[1], dX) < 1e-6);
    CHECK(relative_difference(bf16[2], dW) < 1e-6);
    CHECK(relative_difference(bf16[3], as_doubles(fp32[3])) == 0);  // db: a sum, no product
    // and within a few times bf16's precision (2^-8) of the float32 products (sums of up to 53 terms of
    // both signs, so some cancel), but not equal to them
    for (int k = 0; k < 3; ++k) {
        const double d = relative_difference(bf16[static_cast<std::size_t>(k)], as_doubles(fp32[static_cast<std::size_t>(k)]));
        CHECK(d < 4e-2);
        CHECK(d > 1e-5);
    }
}

TEST_CASE("bf16: accumulating products and alpha; double tensors and the output layer stay exact") {
    if (!bf16_products_available()) return;
    const std::int64_t N = 20, C = 24, V = 11;
    const Tensorf G = bf16_test_values({N, V}, 0.3), W = bf16_test_values({V, C}, 0.9);
    Tensorf out = bf16_test_values({N, C}, 1.7);
    const std::vector<double> before = as_doubles(out);
    {
        Bf16ProductsGuard bf16;
        kernels::product_nn(kernels::Output<float>{out.matrix(N, C), true}, G.matrix(), W.matrix(), 0.5f);
    }
    std::vector<double> expected = times_transposed(rounded(G), transposed(rounded(W), V, C), N, V, C);
    for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = before[i] + 0.5 * expected[i];
    CHECK(relative_difference(out, expected) < 1e-6);

    // double: the guard changes nothing
    const Tensord xd = param({5, 7}, 1), Wd = param({3, 7}, 2);
    const Tensord plain = linear(xd, Wd);
    Bf16ProductsGuard bf16;
    CHECK(max_abs_diff(linear(xd, Wd), plain) == 0);

    // the output layer with the loss: float32 in the forward, and so in its gradients
    const Tensorf x0 = bf16_test_values({N, C}, 0.2), Wv0 = bf16_test_values({V, C}, 0.4);
    const IndexTensor targets = IndexTensor::from_data({N}, std::vector<std::int64_t>(static_cast<std::size_t>(N), 3));
    auto gradients = [&](bool on) {
        Bf16ProductsGuard guard(on);
        Tensorf x = x0.clone().requires_grad_(), Wv = Wv0.clone().requires_grad_();
        linear_cross_entropy(x, Wv, Tensorf(), targets).backward();
        return std::vector<Tensorf>{x.grad(), Wv.grad()};
    };
    const std::vector<Tensorf> with = gradients(true), without = gradients(false);
    CHECK(relative_difference(with[0], as_doubles(without[0])) == 0);
    CHECK(relative_difference(with[1], as_doubles(without[1])) == 0);
}

TEST_CASE("bf16: the same products with one thread and with two") {
    if (!bf16_products_available()) return;
    const std::int64_t N = 512, in = 96, out = 160;
    const Tensorf x0 = bf16_test_values({N, in}, 0.5), W0 = bf16_test_values({out, in}, 1.1),
                  g = bf16_test_values({N, out}, 1.5);
    auto run = [&](int threads) {
        set_num_threads(threads);
        Bf16ProductsGuard bf16;
        Tensorf x = x0.clone().requires_grad_(), W = W0.clone().requires_grad_();
        Tensorf y = linear(x, W);
        sum(y * g).backward();
        return std::vector<Tensorf>{y.detach(), x.grad(), W.grad()};
    };
    const std::vector<Tensorf> one = run(1), two = run(2);
    set_num_threads(1);
    for (std::size_t k = 0; k < 3; ++k) CHECK(relative_difference(one[k], as_doubles(two[k])) == 0);
}
