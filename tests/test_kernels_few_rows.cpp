// Tests for kernels/few_rows.hpp: X W^T for one to four rows of X equals the float64 product, assigns
// or accumulates, and is what product_nt (and so a linear layer) computes for that few rows.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "babygpt/babygpt.hpp"
#include "babygpt/kernels/few_rows.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

/// Values in [-1, 1] that differ from element to element.
std::vector<float> few_rows_values(std::int64_t n, double phase) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] = static_cast<float>(std::sin(0.7 * i + phase));
    return v;
}

}  // namespace

TEST_CASE("few_rows_times_transposed: X W^T for 1 to 4 rows, assigned or added") {
    const std::int64_t in = 67, out_features = 45;  // not a multiple of any SIMD width
    const std::vector<float> W = few_rows_values(out_features * in, 0.3);
    for (std::int64_t N = 1; N <= kernels::kFewRows; ++N) {
        CAPTURE(N);
        const std::vector<float> X = few_rows_values(N * in, 1.1 + static_cast<double>(N));
        const std::vector<float> start = few_rows_values(N * out_features, 2.9);
        std::vector<float> assigned(start), added(start);
        kernels::few_rows_times_transposed(X.data(), N, in, W.data(), out_features, assigned.data(), false);
        kernels::few_rows_times_transposed(X.data(), N, in, W.data(), out_features, added.data(), true);
        for (std::int64_t r = 0; r < N; ++r)
            for (std::int64_t j = 0; j < out_features; ++j) {
                double dot = 0;
                for (std::int64_t k = 0; k < in; ++k)
                    dot += static_cast<double>(X[static_cast<std::size_t>(r * in + k)]) * W[static_cast<std::size_t>(j * in + k)];
                const auto at = static_cast<std::size_t>(r * out_features + j);
                CHECK(std::abs(assigned[at] - dot) < 1e-5);
                CHECK(std::abs(added[at] - (start[at] + dot)) < 1e-5);
            }
    }
}

TEST_CASE("few_rows_times_transposed: a linear layer on a few rows gives the general GEMM's values") {
    Generator gen(5);
    const Tensorf W = Tensorf::randn({96, 80}, gen), b = Tensorf::randn({96}, gen);
    for (const std::int64_t N : {1, 3, 4, 5}) {  // 5: past kFewRows, the general GEMM itself
        CAPTURE(N);
        const Tensorf x = Tensorf::randn({N, 80}, gen);
        const Tensorf fast = linear(x, W, b);
        ReferenceModeGuard reference;  // every product the general GEMM
        const Tensorf plain = linear(x, W, b);
        for (std::int64_t i = 0; i < fast.numel(); ++i) CHECK(std::abs(fast.data()[i] - plain.data()[i]) < 1e-4);
    }
}
