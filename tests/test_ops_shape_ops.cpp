// Tests for ops/shape_ops.hpp: reshape, transpose, concat, narrow_last and split.

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/gradcheck.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

// ---- reshape -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::shape_ops: reshape keeps row-major order and infers -1", T, float, double) {
    const Tensor<T> x = iota<T>({2, 3, 4});
    CHECK(reshape(x, {6, 4}).shape() == Shape{6, 4});
    CHECK(reshape(x, {-1, 4}).shape() == Shape{6, 4});
    CHECK(reshape(x, {4, -1}).shape() == Shape{4, 6});
    CHECK(reshape(x, {2, -1, 2}).shape() == Shape{2, 6, 2});
    CHECK(reshape(x, {-1}).shape() == Shape{24});
    CHECK(reshape(x, {1, 2, 1, 12}).shape() == Shape{1, 2, 1, 12});
    const Tensor<T> y = reshape(x, {4, -1});
    CHECK(y(0, 5) == T(6));
    CHECK(y(1, 0) == T(7));
    CHECK(y(3, 5) == T(24));
    CHECK(reshape(Tensor<T>::scalar(T(3)), {1, 1}).shape() == Shape{1, 1});
    CHECK(reshape(Tensor<T>::ones({1, 1}), {}).item() == T(1));
    CHECK(reshape(Tensor<T>::zeros({0, 3}), {-1, 3}).shape() == Shape{0, 3});
}

TEST_CASE("ops::shape_ops: reshape is a view") {
    const Tensorf x = iota<float>({2, 3});
    const Tensorf v = reshape(x, {3, -1});
    CHECK(v.data() == x.data());
    v(2, 1) = 100.0f;
    CHECK(x(1, 2) == 100.0f);
}

TEST_CASE("ops::shape_ops: impossible reshapes throw") {
    const Tensorf x = Tensorf::zeros({2, 3});
    CHECK_THROWS_WITH_AS(reshape(x, {4, 2}), "reshape: (2,3) -> (4,2): 6 elements do not fit 8", Error);
    CHECK_THROWS_WITH_AS(reshape(x, {-1, 4}), "reshape: (2,3) -> (-1,4): 6 elements cannot be split that way",
                         Error);
    CHECK_THROWS_WITH_AS(reshape(x, {-1, -1}), "reshape: (2,3) -> (-1,-1): only one dimension can be -1", Error);
    CHECK_THROWS_WITH_AS(reshape(x, {-2, -3}), "reshape: (2,3) -> (-2,-3): negative dimension", Error);
    CHECK_THROWS_WITH_AS(reshape(x, {7}), doctest::Contains("do not fit"), Error);
    CHECK_THROWS_AS(reshape(x, {0, -1}), Error);
}

// ---- transpose -----------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::shape_ops: transpose swaps the last two dimensions", T, float, double) {
    const Tensor<T> m = iota<T>({2, 3});
    check_values_exact(transpose(m), {3, 2}, {1, 4, 2, 5, 3, 6});
    const Tensor<T> b = iota<T>({2, 2, 3});
    check_values_exact(transpose(b), {2, 3, 2}, {1, 4, 2, 5, 3, 6, 7, 10, 8, 11, 9, 12});
    // (B, nh, T, hs) -> (B, nh, hs, T)
    const Tensor<T> q = iota<T>({2, 2, 3, 2});
    const Tensor<T> qt = transpose(q);
    REQUIRE(qt.shape() == Shape{2, 2, 2, 3});
    for (std::int64_t i = 0; i < 2; ++i)
        for (std::int64_t h = 0; h < 2; ++h)
            for (std::int64_t t = 0; t < 3; ++t)
                for (std::int64_t s = 0; s < 2; ++s) CHECK(qt(i, h, s, t) == q(i, h, t, s));
    // transpose copies (there are no strides)
    CHECK(transpose(m).data() != m.data());
    check_values_exact(transpose(transpose(b)), {2, 2, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

TEST_CASE("ops::shape_ops: transpose needs two dimensions") {
    CHECK_THROWS_WITH_AS(transpose(Tensorf::zeros({3})), "transpose: needs at least 2 dimensions, got (3,)", Error);
}

// ---- concat, narrow_last, split ------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::shape_ops: concat along the last dimension", T, float, double) {
    const Tensor<T> a = Tensor<T>::from_data({2, 2}, {1, 2, 3, 4});
    const Tensor<T> b = Tensor<T>::from_data({2, 1}, {5, 6});
    const Tensor<T> c = Tensor<T>::from_data({2, 3}, {7, 8, 9, 10, 11, 12});
    check_values_exact(concat<T>({a, b, c}), {2, 6}, {1, 2, 5, 7, 8, 9, 3, 4, 6, 10, 11, 12});
    check_values_exact(concat<T>({c}), {2, 3}, {7, 8, 9, 10, 11, 12});
    check_values_exact(concat<T>({b, b}), {2, 2}, {5, 5, 6, 6});

    // n_head outputs (B, T, hs) -> (B, T, n_head * hs)
    const Tensor<T> h0 = iota<T>({2, 2, 2}, T(0));
    const Tensor<T> h1 = iota<T>({2, 2, 2}, T(100));
    check_values_exact(concat<T>({h0, h1}), {2, 2, 4}, {0, 1, 100, 101, 2, 3, 102, 103, 4, 5, 104, 105, 6, 7, 106, 107});
}

TEST_CASE_TEMPLATE("ops::shape_ops: concat with an empty piece", T, float, double) {
    const Tensor<T> empty = Tensor<T>::zeros({2, 0});
    const Tensor<T> c = Tensor<T>::from_data({2, 3}, {7, 8, 9, 10, 11, 12});
    check_values_exact(concat<T>({empty, c}), {2, 3}, {7, 8, 9, 10, 11, 12});
    check_values_exact(concat<T>({c, empty}), {2, 3}, {7, 8, 9, 10, 11, 12});
    check_values_exact(concat<T>({empty, empty}), {2, 0}, {});
    check_values_exact(concat<T>({Tensor<T>::zeros({0, 2}), Tensor<T>::zeros({0, 1})}), {0, 3}, {});
}

TEST_CASE("ops::shape_ops: concat mismatches throw") {
    CHECK_THROWS_WITH_AS(concat<float>({Tensorf::zeros({2, 3}), Tensorf::zeros({3, 3})}),
                         "concat: (2,3) and (3,3): all dimensions but the last must match", Error);
    CHECK_THROWS_WITH_AS(concat<float>({Tensorf::zeros({2, 3}), Tensorf::zeros({1, 2, 3})}),
                         doctest::Contains("concat: (2,3) and (1,2,3)"), Error);
    CHECK_THROWS_WITH_AS(concat<float>({}), "concat: needs at least one tensor", Error);
    CHECK_THROWS_WITH_AS(concat<float>({Tensorf::scalar(1), Tensorf::scalar(2)}),
                         doctest::Contains("concat: cannot join 0-d tensors"), Error);
}

TEST_CASE_TEMPLATE("ops::shape_ops: narrow_last and split", T, float, double) {
    const Tensor<T> x = iota<T>({2, 6});
    check_values_exact(narrow_last(x, 1, 2), {2, 2}, {2, 3, 8, 9});
    check_values_exact(narrow_last(x, 0, 6), {2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
    check_values_exact(narrow_last(x, 6, 0), {2, 0}, {});

    const auto pieces = split(x, std::vector<std::int64_t>{1, 2, 3});
    REQUIRE(pieces.size() == 3);
    check_values_exact(pieces[0], {2, 1}, {1, 7});
    check_values_exact(pieces[1], {2, 2}, {2, 3, 8, 9});
    check_values_exact(pieces[2], {2, 3}, {4, 5, 6, 10, 11, 12});

    // q, k, v = split(qkv, C): (B, T, 3C) -> three (B, T, C)
    const Tensor<T> qkv = iota<T>({1, 2, 6});
    const auto qkv_parts = split(qkv, std::int64_t(2));
    REQUIRE(qkv_parts.size() == 3);
    check_values_exact(qkv_parts[0], {1, 2, 2}, {1, 2, 7, 8});
    check_values_exact(qkv_parts[1], {1, 2, 2}, {3, 4, 9, 10});
    check_values_exact(qkv_parts[2], {1, 2, 2}, {5, 6, 11, 12});

    // split then concat is the identity
    check_values_exact(concat(pieces), {2, 6}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12});
}

TEST_CASE("ops::shape_ops: split and narrow_last errors") {
    const Tensorf x = Tensorf::zeros({2, 6});
    CHECK_THROWS_WITH_AS(split(x, std::vector<std::int64_t>{2, 3}),
                         "split: sizes add up to 5 but the last dimension of (2,6) is 6", Error);
    CHECK_THROWS_WITH_AS(split(x, std::int64_t(4)), "split: the last dimension of (2,6) does not split into pieces of 4",
                         Error);
    CHECK_THROWS_AS(split(x, std::int64_t(0)), Error);
    CHECK_THROWS_WITH_AS(narrow_last(x, 4, 3), "narrow_last: columns [4, 7) are out of range for shape (2,6)", Error);
    CHECK_THROWS_AS(narrow_last(x, -1, 2), Error);
    CHECK_THROWS_AS(narrow_last(x, 0, -1), Error);
    CHECK_THROWS_AS(narrow_last(Tensorf::scalar(1), 0, 1), Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::shape_ops: gradcheck reshape with -1") {
    check_gradcheck([](const std::vector<Tensord>& in) { return reshape(in[0], {-1, 4}); }, {param({2, 3, 4}, 1)});
    check_gradcheck([](const std::vector<Tensord>& in) { return reshape(in[0], {2, 2, -1, 3}); },
                    {param({2, 6, 3}, 2)});
    // The input and a view of it in one graph.
    check_gradcheck(
        [](const std::vector<Tensord>& in) { return in[0] * 2.0 + reshape(reshape(in[0], {-1}), {2, 3}) * in[0]; },
        {param({2, 3}, 3)});
}

TEST_CASE("ops::shape_ops: gradcheck transpose") {
    check_gradcheck([](const std::vector<Tensord>& in) { return transpose(in[0]); }, {param({3, 4}, 4)});
    check_gradcheck([](const std::vector<Tensord>& in) { return transpose(in[0]); }, {param({2, 3, 4}, 5)});
    check_gradcheck([](const std::vector<Tensord>& in) { return transpose(in[0]); }, {param({2, 2, 3, 4}, 6)});
    check_gradcheck([](const std::vector<Tensord>& in) { return transpose(in[0]) * transpose(in[0]) + transpose(in[0]); },
                    {param({2, 3, 4}, 7)});
}

TEST_CASE("ops::shape_ops: gradcheck concat") {
    check_gradcheck([](const std::vector<Tensord>& in) { return concat(in); },
                    {param({2, 3, 2}, 8), param({2, 3, 1}, 9), param({2, 3, 4}, 10)});
    // The same tensor twice.
    check_gradcheck([](const std::vector<Tensord>& in) { return concat<double>({in[0], in[1], in[0]}); },
                    {param({2, 2}, 11), param({2, 3}, 12)});
    // Only some parts require grad.
    Generator gen(13);
    const Tensord constant = Tensord::randn({2, 3}, gen);
    check_gradcheck([constant](const std::vector<Tensord>& in) { return concat<double>({constant, in[0]}); },
                    {param({2, 2}, 14)});
    // An empty part.
    check_gradcheck([](const std::vector<Tensord>& in) { return concat(in); }, {param({2, 0}, 18), param({2, 3}, 19)});
}

TEST_CASE("ops::shape_ops: gradcheck narrow_last and split") {
    check_gradcheck([](const std::vector<Tensord>& in) { return narrow_last(in[0], 1, 3); }, {param({2, 3, 5}, 15)});
    check_gradcheck(
        [](const std::vector<Tensord>& in) {
            const auto p = split(in[0], std::vector<std::int64_t>{2, 2, 1});
            return concat<double>({p[0] * p[1], narrow_last(p[1], 0, 1) * p[2]});
        },
        {param({3, 5}, 16)});
    // q, k, v split, recombined in another order.
    check_gradcheck(
        [](const std::vector<Tensord>& in) {
            const auto qkv = split(in[0], std::int64_t(2));
            return concat<double>({qkv[2], qkv[0] * qkv[1]});
        },
        {param({2, 2, 6}, 17)});
}
