// Tests for ops/layer_norm.hpp: the fused LayerNorm over the last dimension.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "babygpt/ops/layer_norm.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/reference_mode.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

// As param, drawn from N(mean, std^2).
Tensord shifted_param(const Shape& shape, std::uint64_t seed, double mean, double std) {
    Generator gen(seed);
    Tensord t = Tensord::randn(shape, gen, mean, std);
    t.requires_grad_();
    return t;
}

// The op under ReferenceMode: LayerNorm built from primitive ops, each with its own backward
// (detail::layer_norm_reference), so autograd derives the gradient the fused kernel computes by formula.
Tensord composed_layer_norm(const Tensord& x, const Tensord& w, const Tensord& b, double eps) {
    ReferenceModeGuard reference;
    return layer_norm(x, w, b, eps);
}

// The gradients of sum(f(x, w, b) * g1) + sum(f(x, w, b) * g2): two uses of f, so the second backward adds
// into the gradients the first one assigned. Returns {y, dx, dweight, dbias}; dx undefined if x needs none.
template <typename T, typename F>
std::vector<Tensor<T>> values_and_gradients(F f, const Tensor<T>& x, const Tensor<T>& w, const Tensor<T>& b,
                                            const Tensor<T>& g1, const Tensor<T>& g2) {
    const Tensor<T> y = f(x, w, b);
    (sum(y * g1) + sum(f(x, w, b) * g2)).backward();
    return {y, x.grad(), w.grad(), b.grad()};
}

template <typename T>
Tensor<T> cast(const Tensord& t, bool requires_grad) {
    Tensor<T> out = Tensor<T>::empty(t.shape());
    for (std::int64_t i = 0; i < t.numel(); ++i) out.data()[i] = static_cast<T>(t.data()[i]);
    if (requires_grad) out.requires_grad_();
    return out;
}

// The largest |a - b|, and the largest |b|, over all elements.
template <typename T>
std::pair<double, double> max_diff_and_scale(const Tensor<T>& a, const Tensord& b) {
    REQUIRE(a.shape() == b.shape());
    double diff = 0, scale = 0;
    for (std::int64_t i = 0; i < b.numel(); ++i) {
        diff = std::max(diff, std::abs(static_cast<double>(a.data()[i]) - b.data()[i]));
        scale = std::max(scale, std::abs(b.data()[i]));
    }
    return {diff, scale};
}

const char* const result_names[] = {"y", "dx", "dweight", "dbias"};

}  // namespace

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::layer_norm: forward against torch", T, float, double) {
    // torch: x = 3*torch.sin(1.3*torch.arange(24.)+0.5).view(2,3,4) + 0.5
    //        w = torch.tensor([0.5, 1.0, 1.5, -2.0]); b = torch.tensor([0.1, -0.2, 0.3, 0.0])
    //        torch.nn.functional.layer_norm(x, (4,), w, b, eps=1e-5).flatten()   (float64)
    const Tensor<T> x = sin_seq<T>({2, 3, 4}, 1.3, 0.5, 3.0, 0.5);
    const Tensor<T> w = Tensor<T>::from_data({4}, {0.5, 1.0, 1.5, -2.0});
    const Tensor<T> b = Tensor<T>::from_data({4}, {0.1, -0.2, 0.3, 0.0});
    for (const bool reference_mode : {false, true}) {  // the fused kernel, then the plain composition
        CAPTURE(reference_mode);
        std::optional<ReferenceModeGuard> reference;
        if (reference_mode) reference.emplace();
        check_values(layer_norm(x, w, b), {2, 3, 4},
                     {0.34226156613860736, 0.9817005391730618,  0.10068665336030003, 3.0666962140476195,
                      -0.5404613194836131, 0.5566032021199405,  2.0554017515868512,  1.2918967950878957,
                      -0.5849636890362999, -0.7425308979384089, 1.7494699766829473,  -1.8922899164447542,
                      -0.0666802034528062, -1.4207527066268388, 0.3080597563747181,  -3.097479885231945,
                      0.7944069696353153,  -0.8104317218508217, -1.5368108215594107, -0.8923166605729299,
                      0.7528186421349717,  0.4344206818569836,  -1.044297686157192,  2.0877190173775984});
    }
}

TEST_CASE_TEMPLATE("ops::layer_norm: by hand", T, float, double) {
    // Row [1, 2, 3]: mean 2, biased variance 2/3, so xhat = [-sqrt(1.5), 0, sqrt(1.5)] (with eps = 0).
    const double r = std::sqrt(1.5);
    const Tensor<T> x = Tensor<T>::from_data({2, 3}, {1, 2, 3, -1, -2, -3});
    check_values(layer_norm(x, Tensor<T>::ones({3}), Tensor<T>::zeros({3}), 0.0), {2, 3}, {-r, 0, r, r, 0, -r});
    const Tensor<T> w = Tensor<T>::from_data({3}, {2, 3, -1});
    const Tensor<T> b = Tensor<T>::from_data({3}, {0.5, 1, 0});
    check_values(layer_norm(x, w, b, 0.0), {2, 3}, {0.5 - 2 * r, 1, -r, 0.5 + 2 * r, 1, r});

    // A constant row has zero variance: xhat = 0 (eps keeps it finite), so the output is the bias.
    const Tensor<T> c = Tensor<T>::full({1, 3}, T(5));
    check_values(layer_norm(c, w, b), {1, 3}, {0.5, 1, 0});

    // The output does not depend on a shift or (up to eps) a scale of the row.
    const Tensor<T> y = Tensor<T>::from_data({1, 3}, {10 + 4, 10 + 8, 10 + 12});
    check_values(layer_norm(y, Tensor<T>::ones({3}), Tensor<T>::zeros({3}), 0.0), {1, 3}, {-r, 0, r});
}

TEST_CASE_TEMPLATE("ops::layer_norm: 1-d and 4-d inputs", T, float, double) {
    const Tensor<T> v = Tensor<T>::from_data({2}, {3, 7});  // xhat = [-1, 1]
    check_values(layer_norm(v, Tensor<T>::ones({2}), Tensor<T>::zeros({2}), 0.0), {2}, {-1, 1});
    const Tensor<T> q = sin_seq<T>({2, 2, 3, 4}, 0.9, 0.1, 2.0);
    const Tensor<T> out = layer_norm(q, Tensor<T>::ones({4}), Tensor<T>::zeros({4}));
    REQUIRE(out.shape() == q.shape());
    // Every row has mean 0 and (biased) variance 1 / (1 + eps / var) ~ 1.
    check_values(mean(out, -1), {2, 2, 3}, std::vector<double>(12, 0.0));
    const Tensor<T> var = mean(out * out, -1);
    for (std::int64_t i = 0; i < var.numel(); ++i) CHECK(double(var.data()[i]) == doctest::Approx(1.0).epsilon(1e-3));
}

// ---- errors --------------------------------------------------------------------------------------

TEST_CASE("ops::layer_norm: weight and bias must have the last dimension's shape") {
    const Tensorf x = Tensorf::zeros({2, 3});
    CHECK_THROWS_WITH_AS(layer_norm(x, Tensorf::ones({4}), Tensorf::zeros({3})),
                         "layer_norm: input (2,3) needs weight and bias of shape (3,), got (4,) and (3,)", Error);
    CHECK_THROWS_WITH_AS(layer_norm(x, Tensorf::ones({3}), Tensorf::zeros({1, 3})),
                         doctest::Contains("needs weight and bias of shape (3,), got (3,) and (1,3)"), Error);
    CHECK_THROWS_WITH_AS(layer_norm(Tensorf::scalar(1), Tensorf::ones({1}), Tensorf::zeros({1})),
                         "layer_norm: needs at least 1 dimension", Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::layer_norm: gradcheck input weight and bias") {
    check_gradcheck([](const std::vector<Tensord>& in) { return layer_norm(in[0], in[1], in[2]); },
                    {shifted_param({2, 3, 4}, 1, 0.5, 2.0), shifted_param({4}, 2, 1.0, 0.5), param({4}, 3)});
    check_gradcheck([](const std::vector<Tensord>& in) { return layer_norm(in[0], in[1], in[2]); },
                    {param({3, 5}, 4), shifted_param({5}, 5, 1.0, 0.5), param({5}, 6)});
    check_gradcheck([](const std::vector<Tensord>& in) { return layer_norm(in[0], in[1], in[2], 0.1); },
                    {param({2, 2, 2, 3}, 7), param({3}, 8), param({3}, 9)});
}

TEST_CASE("ops::layer_norm: the fixed-width rows (C = 32, 384) equal the formula; gradcheck at C = 32") {
    for (const std::int64_t C : {32, 384}) {
        CAPTURE(C);
        const Tensord x = shifted_param({3, C}, 10, 0.5, 2.0), w = shifted_param({C}, 11, 1.0, 0.5), b = param({C}, 12);
        const Tensord y = layer_norm(x, w, b);
        for (std::int64_t r = 0; r < 3; ++r) {
            double mean = 0, var = 0;
            for (std::int64_t c = 0; c < C; ++c) mean += x(r, c) / static_cast<double>(C);
            for (std::int64_t c = 0; c < C; ++c) var += (x(r, c) - mean) * (x(r, c) - mean) / static_cast<double>(C);
            for (std::int64_t c = 0; c < C; ++c)
                CHECK(y(r, c) == doctest::Approx((x(r, c) - mean) / std::sqrt(var + 1e-5) * w(c) + b(c)).epsilon(1e-12));
        }
    }
    check_gradcheck([](const std::vector<Tensord>& in) { return layer_norm(in[0], in[1], in[2]); },
                    {shifted_param({3, 32}, 13, 0.5, 2.0), shifted_param({32}, 14, 1.0, 0.5), param({32}, 15)});
}

TEST_CASE("ops::layer_norm: gradcheck when only some inputs require grad") {
    const Tensord w = Tensord::from_data({4}, {0.5, 1.0, 1.5, -2.0});
    const Tensord b = Tensord::from_data({4}, {0.1, -0.2, 0.3, 0.0});
    check_gradcheck([w, b](const std::vector<Tensord>& in) { return layer_norm(in[0], w, b); }, {param({3, 4}, 10)});
    Generator gen(11);
    const Tensord x = Tensord::randn({3, 4}, gen);
    check_gradcheck([x](const std::vector<Tensord>& in) { return layer_norm(x, in[0], in[1]); },
                    {param({4}, 12), param({4}, 13)});
}

TEST_CASE("ops::layer_norm: gradcheck with inputs used more than once") {
    // A residual connection: x + layer_norm(x); and the weight reused after the norm.
    check_gradcheck([](const std::vector<Tensord>& in) { return in[0] + layer_norm(in[0], in[1], in[2]); },
                    {param({2, 3, 4}, 14), shifted_param({4}, 15, 1.0, 0.3), param({4}, 16)});
    check_gradcheck([](const std::vector<Tensord>& in) { return layer_norm(in[0], in[1], in[2]) * in[1]; },
                    {param({3, 4}, 17), shifted_param({4}, 18, 1.0, 0.3), param({4}, 19)});
    check_gradcheck(
        [](const std::vector<Tensord>& in) { return layer_norm(layer_norm(in[0], in[1], in[2]) * in[0], in[1], in[2]); },
        {param({3, 4}, 20), shifted_param({4}, 21, 1.0, 0.3), param({4}, 22)});
}

TEST_CASE("ops::layer_norm: hand-computed gradients of weight and bias") {
    // dL/dbias = column sums of g; dL/dweight = column sums of g * xhat.
    const double r = std::sqrt(1.5);
    const Tensord x = Tensord::from_data({2, 3}, {1, 2, 3, -1, -2, -3});
    Tensord w = Tensord::ones({3});
    Tensord b = Tensord::zeros({3});
    w.requires_grad_();
    b.requires_grad_();
    sum(layer_norm(x, w, b, 0.0) * Tensord::from_data({2, 3}, {1, 1, 1, 2, 2, 2})).backward();
    check_values(b.grad(), {3}, {3, 3, 3});
    check_values(w.grad(), {3}, {-r + 2 * r, 0, r - 2 * r});
}

// ---- the fixed-width kernels ----------------------------------------------------------------------
// C = 32, 64, 128, 256 and 384 run fixed-size row kernels, every other width a dynamic-size one.

TEST_CASE("ops::layer_norm: at the fixed widths, values and gradients equal a composition of primitive ops") {
    for (const std::int64_t C : {32, 64, 128, 256, 384}) {
        for (const bool x_needs_grad : {true, false}) {
            CAPTURE(C);
            CAPTURE(x_needs_grad);
            const std::int64_t rows = 7;
            const auto fused = [](const Tensord& x, const Tensord& w, const Tensord& b) { return layer_norm(x, w, b); };
            const auto composed = [](const Tensord& x, const Tensord& w, const Tensord& b) {
                return composed_layer_norm(x, w, b, 1e-5);
            };
            const auto inputs = [&] {
                Tensord x = shifted_param({rows, C}, 30 + C, 0.5, 2.0);
                if (!x_needs_grad) x = x.detach();
                return std::vector<Tensord>{x, shifted_param({C}, 31 + C, 1.0, 0.5), param({C}, 32 + C)};
            };
            const Tensord g1 = param({rows, C}, 33 + C).detach(), g2 = param({rows, C}, 34 + C).detach();
            const std::vector<Tensord> a = inputs(), b = inputs();
            const std::vector<Tensord> got = values_and_gradients<double>(fused, a[0], a[1], a[2], g1, g2);
            const std::vector<Tensord> want = values_and_gradients<double>(composed, b[0], b[1], b[2], g1, g2);
            for (std::size_t k = 0; k < got.size(); ++k) {
                const std::string result = result_names[k];
            CAPTURE(result);
                REQUIRE(got[k].defined() == (k != 1 || x_needs_grad));
                if (!got[k].defined()) continue;
                const auto [diff, scale] = max_diff_and_scale(got[k], want[k]);
                CHECK(scale > 0.1);  // not a comparison of zeros
                CHECK(diff <= 1e-12 * std::max(1.0, scale));
            }
        }
    }
}

TEST_CASE("ops::layer_norm: at the fixed widths, float agrees with double") {
    for (const std::int64_t C : {32, 64, 128, 256, 384}) {
        CAPTURE(C);
        const std::int64_t rows = 37;
        const Tensord x = shifted_param({rows, C}, 40 + C, 0.5, 2.0).detach();
        const Tensord w = shifted_param({C}, 41 + C, 1.0, 0.5).detach(), b = param({C}, 42 + C).detach();
        const Tensord g1 = param({rows, C}, 43 + C).detach(), g2 = param({rows, C}, 44 + C).detach();
        const auto fused = [](const auto& x, const auto& w, const auto& b) { return layer_norm(x, w, b); };
        const std::vector<Tensord> want =
            values_and_gradients<double>(fused, cast<double>(x, true), cast<double>(w, true), cast<double>(b, true),
                                         g1, g2);
        const std::vector<Tensorf> got =
            values_and_gradients<float>(fused, cast<float>(x, true), cast<float>(w, true), cast<float>(b, true),
                                        cast<float>(g1, false), cast<float>(g2, false));
        for (std::size_t k = 0; k < got.size(); ++k) {
            const std::string result = result_names[k];
            CAPTURE(result);
            const auto [diff, scale] = max_diff_and_scale(got[k], want[k]);
            CHECK(scale > 0.1);
            CHECK(diff <= 1e-5 * scale);
        }
    }
}
