// Tests for ops/softmax.hpp: softmax, log_softmax, masked_fill and causal_mask.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include "babygpt/ops/softmax.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/shape_ops.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

constexpr double inf = std::numeric_limits<double>::infinity();

}  // namespace

// ---- softmax and log_softmax ---------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::softmax: forward against torch", T, float, double) {
    // torch: x = 2*torch.sin(1.3*torch.arange(24.)+0.5).view(2,3,4); torch.softmax(x, -1).flatten()  (float64)
    const Tensor<T> x = sin_seq<T>({2, 3, 4}, 1.3, 0.5, 2.0);
    check_values_or_inf(softmax(x), {2, 3, 4},
                 {0.24027767639109937, 0.645896596776828, 0.10009357387142405, 0.013732152960648607,
                  0.030679845980054205, 0.34341864384630577, 0.5607755346618636, 0.06512597551177654,
                  0.013064828020995541, 0.04672772528453715, 0.47740495608684796, 0.4628024906076193,
                  0.061656322191935585, 0.01818141370953737, 0.09827017339415882, 0.8218920907043682,
                  0.6891441077264471, 0.06135973888097215, 0.029189301298095136, 0.22030685209448572,
                  0.7093159081357602, 0.24940489345762434, 0.02300212202404346, 0.018277076382572102});
}

TEST_CASE_TEMPLATE("ops::softmax: log_softmax forward against torch", T, float, double) {
    // torch: x = 2*torch.sin(1.3*torch.arange(24.)+0.5).view(2,3,4); torch.log_softmax(x, -1).flatten()  (float64)
    const Tensor<T> x = sin_seq<T>({2, 3, 4}, 1.3, 0.5, 2.0);
    check_values_or_inf(log_softmax(x), {2, 3, 4},
                 {-1.4259600394685294, -0.4371158549205451, -2.3016497918103545, -4.288015264455968,
                  -3.484149322702521,  -1.0688050400696676, -0.5784345699946591, -2.731431799953205,
                  -4.3378315434337,    -3.0634176012945993, -0.7393901837177036, -0.770454902070313,
                  -2.786179504882114,  -4.007355431455361,  -2.3200347221424935, -0.19614616905884028,
                  -0.3723048749378115, -2.791001377457417,  -3.533953030747398,  -1.5127339221873395,
                  -0.3434542830885335, -1.3886776250079818, -3.772168805393923,  -4.00210766105502});
}

TEST_CASE_TEMPLATE("ops::softmax: large logits do not overflow", T, float, double) {
    const Tensor<T> x = Tensor<T>::from_data({1, 3}, {1000, 1001, 1002});
    // torch: torch.softmax(torch.tensor([1000., 1001., 1002.], dtype=torch.float64), -1)
    check_values_or_inf(softmax(x), {1, 3}, {0.09003057317038045, 0.2447284710547976, 0.6652409557748218});
    // torch: torch.log_softmax(torch.tensor([1000., 1001., 1002.], dtype=torch.float64), -1)
    check_values_or_inf(log_softmax(x), {1, 3}, {-2.4076059644443806, -1.4076059644443804, -0.4076059644443804});
    const Tensor<T> y = Tensor<T>::from_data({2}, {-1000, 1000});
    check_values_or_inf(softmax(y), {2}, {0, 1});
    check_values_or_inf(log_softmax(y), {2}, {-2000, 0});
}

TEST_CASE_TEMPLATE("ops::softmax: rows sum to one and match exp(log_softmax)", T, float, double) {
    const Tensor<T> x = sin_seq<T>({2, 2, 3, 5}, 0.77, 0.2, 3.0);
    const Tensor<T> s = softmax(x);
    const Tensor<T> ls = log_softmax(x);
    const Tensor<T> row_sums = sum(s, -1);
    check_values_or_inf(row_sums, {2, 2, 3}, std::vector<double>(12, 1.0));
    for (std::int64_t i = 0; i < x.numel(); ++i)
        CHECK(double(s.data()[i]) == doctest::Approx(std::exp(double(ls.data()[i]))).epsilon(tolerance<T>()));
    // A constant row is uniform; a 1-element row is 1.
    check_values_or_inf(softmax(Tensor<T>::full({4}, T(3))), {4}, {0.25, 0.25, 0.25, 0.25});
    check_values_or_inf(softmax(Tensor<T>::full({2, 1}, T(-7))), {2, 1}, {1, 1});
}

TEST_CASE("ops::softmax: needs a dimension") {
    CHECK_THROWS_WITH_AS(softmax(Tensorf::scalar(1)), "softmax: needs at least 1 dimension", Error);
    CHECK_THROWS_WITH_AS(log_softmax(Tensorf::scalar(1)), "log_softmax: needs at least 1 dimension", Error);
}

// ---- masking -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::softmax: masked_fill", T, float, double) {
    const Tensor<T> x = iota<T>({2, 2, 2});  // 1..8
    const Tensor<T> mask = Tensor<T>::from_data({2, 2}, {0, 1, 0, 0});
    check_values_or_inf(masked_fill(x, mask, T(-5)), {2, 2, 2}, {1, -5, 3, 4, 5, -5, 7, 8});
    const Tensor<T> full_mask = Tensor<T>::from_data({2, 2, 2}, {1, 0, 0, 0, 0, 0, 0, 1});
    check_values_or_inf(masked_fill(x, full_mask, T(0)), {2, 2, 2}, {0, 2, 3, 4, 5, 6, 7, 0});
    const Tensor<T> lead = Tensor<T>::from_data({1, 2}, {0, 2});  // any non-zero counts
    check_values_or_inf(masked_fill(x, lead, -std::numeric_limits<T>::infinity()), {2, 2, 2},
                 {1, -inf, 3, -inf, 5, -inf, 7, -inf});
    CHECK(x(0, 0, 1) == T(2));  // the input is untouched
}

TEST_CASE("ops::softmax: masked_fill shape mismatch throws") {
    CHECK_THROWS_WITH_AS(masked_fill(Tensorf::zeros({2, 2}), Tensorf::zeros({3}), 0.0f),
                         "masked_fill: mask (3,) does not match the trailing dimensions of (2,2)", Error);
}

TEST_CASE_TEMPLATE("ops::softmax: causal_mask", T, float, double) {
    const Tensor<T> x = iota<T>({2, 3, 3});  // 1..18
    check_values_or_inf(causal_mask(x), {2, 3, 3},
                 {1, -inf, -inf, 4, 5, -inf, 7, 8, 9, 10, -inf, -inf, 13, 14, -inf, 16, 17, 18});
    check_values_or_inf(causal_mask(iota<T>({3, 3}), T(0)), {3, 3}, {1, 0, 0, 4, 5, 0, 7, 8, 9});
    // Not square: (R, C) = (2, 3) and (3, 2).
    check_values_or_inf(causal_mask(iota<T>({2, 3}), T(-1)), {2, 3}, {1, -1, -1, 4, 5, -1});
    check_values_or_inf(causal_mask(iota<T>({3, 2}), T(-1)), {3, 2}, {1, -1, 3, 4, 5, 6});
    // (B, nh, T, T) attention scores
    const Tensor<T> att = causal_mask(Tensor<T>::ones({2, 2, 4, 4}), T(0));
    for (std::int64_t b = 0; b < 2; ++b)
        for (std::int64_t h = 0; h < 2; ++h)
            for (std::int64_t i = 0; i < 4; ++i)
                for (std::int64_t j = 0; j < 4; ++j) CHECK(att(b, h, i, j) == (j <= i ? T(1) : T(0)));
}

TEST_CASE_TEMPLATE("ops::softmax: softmax of causally masked scores", T, float, double) {
    const Tensor<T> scores = Tensor<T>::zeros({1, 3, 3});
    check_values_or_inf(softmax(causal_mask(scores)), {1, 3, 3}, {1, 0, 0, 0.5, 0.5, 0, 1.0 / 3, 1.0 / 3, 1.0 / 3});
}

TEST_CASE("ops::softmax: causal_mask needs two dimensions") {
    CHECK_THROWS_WITH_AS(causal_mask(Tensorf::zeros({3})), "causal_mask: needs at least 2 dimensions, got (3,)", Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::softmax: gradcheck softmax") {
    check_gradcheck([](const std::vector<Tensord>& in) { return softmax(in[0]); }, {param({5}, 1)});
    check_gradcheck([](const std::vector<Tensord>& in) { return softmax(in[0]); }, {param({2, 3, 4}, 2)});
    check_gradcheck([](const std::vector<Tensord>& in) { return softmax(in[0]); }, {param({2, 2, 3, 3}, 3)});
}

TEST_CASE("ops::softmax: gradcheck log_softmax") {
    check_gradcheck([](const std::vector<Tensord>& in) { return log_softmax(in[0]); }, {param({5}, 4)});
    check_gradcheck([](const std::vector<Tensord>& in) { return log_softmax(in[0]); }, {param({2, 3, 4}, 5)});
    check_gradcheck([](const std::vector<Tensord>& in) { return log_softmax(in[0] * 10.0); }, {param({3, 4}, 6)});
}

TEST_CASE("ops::softmax: gradcheck with an input used more than once") {
    check_gradcheck([](const std::vector<Tensord>& in) { return softmax(in[0]) * in[0] + in[0]; }, {param({2, 4}, 7)});
    check_gradcheck([](const std::vector<Tensord>& in) { return log_softmax(in[0]) + softmax(in[0]); },
                    {param({3, 5}, 8)});
}

TEST_CASE("ops::softmax: gradcheck masked_fill") {
    const Tensord mask = Tensord::from_data({3, 3}, {0, 1, 0, 1, 0, 0, 0, 0, 1});
    check_gradcheck([mask](const std::vector<Tensord>& in) { return masked_fill(in[0], mask, -2.0); },
                    {param({2, 3, 3}, 9)});
    check_gradcheck([mask](const std::vector<Tensord>& in) { return softmax(masked_fill(in[0], mask, -1e9)); },
                    {param({2, 3, 3}, 10)});
}

TEST_CASE("ops::softmax: gradcheck causal_mask") {
    check_gradcheck([](const std::vector<Tensord>& in) { return causal_mask(in[0], 0.5); }, {param({2, 3, 3}, 11)});
    check_gradcheck([](const std::vector<Tensord>& in) { return causal_mask(in[0], -1.0); },
                    {param({2, 2, 4, 4}, 12)});
    check_gradcheck([](const std::vector<Tensord>& in) { return causal_mask(in[0], 0.0); }, {param({3, 2}, 13)});
    // With the default -inf, as attention uses it.
    check_gradcheck([](const std::vector<Tensord>& in) { return softmax(causal_mask(in[0])); },
                    {param({2, 2, 4, 4}, 14)});
}

TEST_CASE("ops::softmax: gradcheck causal self-attention") {
    // softmax(causal_mask(q @ k^T / sqrt(hs))) @ v with (B, nh, T, hs) = (2, 2, 3, 2)
    check_gradcheck(
        [](const std::vector<Tensord>& in) {
            const Tensord att = softmax(causal_mask(matmul(in[0], transpose(in[1])) * (1.0 / std::sqrt(2.0))));
            return matmul(att, in[2]);
        },
        {param({2, 2, 3, 2}, 15), param({2, 2, 3, 2}, 16), param({2, 2, 3, 2}, 17)});
}
