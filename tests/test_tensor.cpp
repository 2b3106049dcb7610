// Tests for tensor.hpp, shape.hpp and kernels/buffer_pool.hpp: factories, shapes, storage sharing, element
// access, Eigen views and the buffer pool.

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <sstream>
#include <vector>

#include "babygpt/tensor.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/shape_ops.hpp"

using babygpt::Error;
using babygpt::Generator;
using babygpt::Shape;
using babygpt::Tensor;
using babygpt::Tensord;
using babygpt::Tensorf;

namespace {

template <typename T>
double sample_mean(const Tensor<T>& t) {
    double s = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) s += static_cast<double>(t.data()[i]);
    return s / static_cast<double>(t.numel());
}

template <typename T>
double sample_std(const Tensor<T>& t) {
    const double m = sample_mean(t);
    double s = 0;
    for (std::int64_t i = 0; i < t.numel(); ++i) {
        const double d = static_cast<double>(t.data()[i]) - m;
        s += d * d;
    }
    return std::sqrt(s / static_cast<double>(t.numel() - 1));
}

}  // namespace

// ---- shape helpers -------------------------------------------------------------------------------

TEST_CASE("shape: numel and to_string") {
    CHECK(babygpt::numel(Shape{}) == 1);
    CHECK(babygpt::numel(Shape{5}) == 5);
    CHECK(babygpt::numel(Shape{2, 3, 4}) == 24);
    CHECK(babygpt::numel(Shape{2, 0, 4}) == 0);
    CHECK(babygpt::to_string(Shape{}) == "()");
    CHECK(babygpt::to_string(Shape{5}) == "(5,)");
    CHECK(babygpt::to_string(Shape{2, 3, 4}) == "(2,3,4)");
}

TEST_CASE("shape: trailing-shape rule used by broadcasting") {
    using babygpt::detail::is_trailing_shape;
    CHECK(is_trailing_shape({4}, {2, 3, 4}));
    CHECK(is_trailing_shape({3, 4}, {2, 3, 4}));
    CHECK(is_trailing_shape({1, 1, 4}, {2, 3, 4}));
    CHECK(is_trailing_shape({}, {2, 3, 4}));
    CHECK_FALSE(is_trailing_shape({3}, {2, 3, 4}));
    CHECK_FALSE(is_trailing_shape({2, 2, 3, 4}, {2, 3, 4}));
}

// ---- factories -----------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("tensor: zeros ones full and scalar", T, float, double) {
    const Tensor<T> z = Tensor<T>::zeros({2, 3});
    CHECK(z.shape() == Shape{2, 3});
    CHECK(z.dim() == 2);
    CHECK(z.numel() == 6);
    for (T v : z.to_vector()) CHECK(v == T(0));

    const Tensor<T> o = Tensor<T>::ones({4});
    CHECK(o.shape() == Shape{4});
    for (T v : o.to_vector()) CHECK(v == T(1));

    const Tensor<T> f = Tensor<T>::full({3, 1, 2}, T(2.5));
    CHECK(f.numel() == 6);
    for (T v : f.to_vector()) CHECK(v == T(2.5));

    const Tensor<T> s = Tensor<T>::scalar(T(-7));
    CHECK(s.dim() == 0);
    CHECK(s.shape() == Shape{});
    CHECK(s.numel() == 1);
    CHECK(s.item() == T(-7));

    const Tensor<T> e = Tensor<T>::zeros({0, 3});
    CHECK(e.numel() == 0);
    CHECK(e.size(1) == 3);
    CHECK(e.to_vector().empty());
}

TEST_CASE("tensor: negative dimension in a shape throws") {
    CHECK_THROWS_WITH_AS(Tensorf::zeros({2, -1}), "Tensor: negative dimension in shape (2,-1)", Error);
}

TEST_CASE_TEMPLATE("tensor: from_data is row-major", T, float, double) {
    const Tensor<T> t = Tensor<T>::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
    CHECK(t.at({0, 0}) == T(1));
    CHECK(t.at({0, 2}) == T(3));
    CHECK(t.at({1, 0}) == T(4));
    CHECK(t(1, 2) == T(6));
    CHECK(t.to_vector() == std::vector<T>{1, 2, 3, 4, 5, 6});

    const std::vector<T> values{0.5, -1.5};
    const Tensor<T> v = Tensor<T>::from_data({2}, values);
    CHECK(v.to_vector() == values);
}

TEST_CASE("tensor: from_data with the wrong number of values throws") {
    CHECK_THROWS_WITH_AS(Tensorf::from_data({2, 3}, {1, 2, 3, 4, 5}),
                         "Tensor::from_data: shape (2,3) needs 6 values, got 5", Error);
    CHECK_THROWS_AS(Tensord::from_data({2}, {1, 2, 3}), Error);
    CHECK_THROWS_AS(Tensord::from_data({}, std::vector<double>{}), Error);
}

TEST_CASE_TEMPLATE("tensor: arange", T, float, double) {
    const Tensor<T> a = Tensor<T>::arange(5);
    CHECK(a.shape() == Shape{5});
    CHECK(a.to_vector() == std::vector<T>{0, 1, 2, 3, 4});
    CHECK(Tensor<T>::arange(0).numel() == 0);
}

TEST_CASE("tensor: index tensors") {
    const babygpt::IndexTensor idx = babygpt::IndexTensor::from_data({2, 2}, {3, 1, 4, 1});
    CHECK(idx(1, 0) == 4);
    CHECK(babygpt::IndexTensor::arange(3).to_vector() == std::vector<std::int64_t>{0, 1, 2});
}

TEST_CASE_TEMPLATE("tensor: randn and rand are reproducible from a seed", T, float, double) {
    Generator g1(123), g2(123), g3(124);
    const Tensor<T> a = Tensor<T>::randn({3, 4}, g1);
    const Tensor<T> b = Tensor<T>::randn({3, 4}, g2);
    const Tensor<T> c = Tensor<T>::randn({3, 4}, g3);
    CHECK(a.to_vector() == b.to_vector());
    CHECK(a.to_vector() != c.to_vector());
    // The generators advanced identically, so the next draws agree too.
    CHECK(Tensor<T>::rand({5}, g1).to_vector() == Tensor<T>::rand({5}, g2).to_vector());

    // randn is drawn in row-major order from Generator::normal.
    Generator g4(9), g5(9);
    const Tensor<T> r = Tensor<T>::randn({2, 2}, g4, 1.0, 3.0);
    for (std::int64_t i = 0; i < 4; ++i)
        CHECK(double(r.data()[i]) == doctest::Approx(1.0 + 3.0 * g5.normal()).epsilon(1e-6));
}

TEST_CASE_TEMPLATE("tensor: randn is statistically sane", T, float, double) {
    Generator gen(2024);
    const Tensor<T> z = Tensor<T>::randn({100, 100}, gen);
    // Standard error of the mean is 0.01 for 10000 samples; of the std about 0.007.
    CHECK(std::abs(sample_mean(z)) < 0.05);
    CHECK(std::abs(sample_std(z) - 1.0) < 0.05);

    const Tensor<T> s = Tensor<T>::randn({10000}, gen, 3.0, 2.0);
    CHECK(std::abs(sample_mean(s) - 3.0) < 0.1);
    CHECK(std::abs(sample_std(s) - 2.0) < 0.1);

    // About 68.3% of normal samples fall within one standard deviation.
    int inside = 0;
    for (T v : z.to_vector()) inside += std::abs(static_cast<double>(v)) < 1.0 ? 1 : 0;
    CHECK(std::abs(inside / 10000.0 - 0.6827) < 0.02);
}

TEST_CASE_TEMPLATE("tensor: rand is statistically sane and in range", T, float, double) {
    Generator gen(7);
    const Tensor<T> u = Tensor<T>::rand({10000}, gen, -2.0, 4.0);
    const std::vector<T> values = u.to_vector();
    CHECK(*std::min_element(values.begin(), values.end()) >= T(-2));
    CHECK(*std::max_element(values.begin(), values.end()) <= T(4));  // rounding to float may reach high
    // U[-2, 4): mean 1, std 6 / sqrt(12) = 1.732
    CHECK(std::abs(sample_mean(u) - 1.0) < 0.06);
    CHECK(std::abs(sample_std(u) - 6.0 / std::sqrt(12.0)) < 0.05);

    const Tensor<T> d = Tensor<T>::rand({10000}, gen);
    CHECK(std::abs(sample_mean(d) - 0.5) < 0.01);
}

// ---- shapes and element access -------------------------------------------------------------------

TEST_CASE("tensor: 4-d shapes") {
    Tensord t = Tensord::arange(120);
    t = babygpt::reshape(t, {2, 3, 4, 5});
    CHECK(t.dim() == 4);
    CHECK(t.numel() == 120);
    CHECK(t.size(0) == 2);
    CHECK(t.size(1) == 3);
    CHECK(t.size(-2) == 4);
    CHECK(t.size(-1) == 5);
    CHECK(t.size(3) == 5);
    CHECK(t.at({0, 0, 0, 0}) == 0);
    CHECK(t.at({0, 0, 1, 0}) == 5);
    CHECK(t.at({0, 1, 0, 0}) == 20);
    CHECK(t.at({1, 0, 0, 0}) == 60);
    CHECK(t.at({1, 2, 3, 4}) == 119);
    CHECK(t(1, 1, 2, 3) == 60 + 20 + 10 + 3);
    CHECK_THROWS_WITH_AS(t.size(4), "size: dimension 4 is out of range for a 4-d tensor", Error);
    CHECK_THROWS_AS(t.size(-5), Error);

    const Tensorf z = Tensorf::zeros({2, 1, 3, 2});
    CHECK(z.numel() == 12);
    CHECK(z.matrix().rows() == 6);
    CHECK(z.matrix().cols() == 2);
}

TEST_CASE("tensor: at checks the number of indices and their bounds") {
    const Tensorf t = Tensorf::zeros({2, 3});
    CHECK_THROWS_WITH_AS(t.at({1}), "Tensor::at: 1 indices for shape (2,3)", Error);
    CHECK_THROWS_AS(t.at({0, 0, 0}), Error);
    CHECK_THROWS_WITH_AS(t.at({2, 0}), "Tensor::at: index 2 is out of range for dimension 0 of shape (2,3)",
                         Error);
    CHECK_THROWS_WITH_AS(t.at({0, 3}), "Tensor::at: index 3 is out of range for dimension 1 of shape (2,3)",
                         Error);
    CHECK_THROWS_AS(t.at({-1, 0}), Error);
    CHECK_THROWS_AS(t(0, 5), Error);
    t.at({1, 2}) = 4.0f;
    CHECK(t.data()[5] == 4.0f);

    const Tensorf s = Tensorf::scalar(3.0f);
    CHECK(s.at({}) == 3.0f);
}

TEST_CASE("tensor: item needs exactly one element") {
    CHECK(Tensorf::scalar(2.0f).item() == 2.0f);
    CHECK(Tensorf::full({1, 1, 1}, 5.0f).item() == 5.0f);
    CHECK_THROWS_WITH_AS(Tensorf::zeros({2, 3}).item(),
                         "Tensor::item: needs exactly one element, the shape is (2,3)", Error);
    CHECK_THROWS_AS(Tensorf::zeros({0}).item(), Error);
}

TEST_CASE("tensor: an undefined tensor") {
    const Tensorf t;
    CHECK_FALSE(t.defined());
    CHECK_THROWS_WITH_AS(t.shape(), "Tensor: use of an undefined tensor", Error);
    CHECK(Tensorf::zeros({1}).defined());
}

// ---- storage -------------------------------------------------------------------------------------

TEST_CASE("tensor: copies share storage") {
    const Tensorf a = Tensorf::zeros({2, 2});
    Tensorf b = a;
    CHECK(b.data() == a.data());
    CHECK(b.impl_ptr() == a.impl_ptr());
    b.at({0, 1}) = 3.0f;
    CHECK(a.at({0, 1}) == 3.0f);
    b.requires_grad_();
    CHECK(a.requires_grad());  // the same tensor, not just the same data
}

TEST_CASE("tensor: clone copies the data") {
    const Tensorf a = Tensorf::from_data({3}, {1, 2, 3});
    const Tensorf c = a.clone();
    CHECK(c.data() != a.data());
    CHECK(c.shape() == a.shape());
    CHECK(c.to_vector() == a.to_vector());
    c.at({0}) = 10.0f;
    CHECK(a.at({0}) == 1.0f);
    a.at({2}) = -1.0f;
    CHECK(c.at({2}) == 3.0f);
}

TEST_CASE("tensor: reshape returns a view that shares storage") {
    const Tensorf a = Tensorf::arange(6);
    const Tensorf v = babygpt::reshape(a, {2, 3});
    CHECK(v.shape() == Shape{2, 3});
    CHECK(v.data() == a.data());
    v.at({1, 0}) = 42.0f;
    CHECK(a.at({3}) == 42.0f);
    a.at({5}) = -1.0f;
    CHECK(v.at({1, 2}) == -1.0f);
    CHECK(v.impl_ptr() != a.impl_ptr());  // its own shape, same data
}

TEST_CASE("tensor: detach shares data and drops autograd state") {
    Tensord x = Tensord::ones({3});
    x.requires_grad_();
    const Tensord y = x * 2.0;
    const Tensord d = y.detach();
    CHECK(d.data() == y.data());
    CHECK_FALSE(d.requires_grad());
    CHECK(d.is_leaf());
    CHECK(d.impl().grad_fn == nullptr);
}

TEST_CASE("tensor: copy_ copies values into the existing storage") {
    const Tensorf dst = Tensorf::zeros({2, 2});
    float* before = dst.data();
    dst.copy_(Tensorf::from_data({2, 2}, {1, 2, 3, 4}));
    CHECK(dst.data() == before);
    CHECK(dst.to_vector() == std::vector<float>{1, 2, 3, 4});
    CHECK_THROWS_WITH_AS(dst.copy_(Tensorf::zeros({4})), "Tensor::copy_: shape (4,) does not match (2,2)", Error);
}

TEST_CASE("tensor: Eigen matrix view maps the storage without copying") {
    const Tensorf t = Tensorf::from_data({2, 3, 4}, std::vector<float>(24, 0.0f));
    auto m = t.matrix();
    CHECK(m.rows() == 6);
    CHECK(m.cols() == 4);
    CHECK(m.data() == t.data());
    m(5, 3) = 7.0f;  // writes go straight to the tensor
    CHECK(t.at({1, 2, 3}) == 7.0f);
    t.at({0, 1, 2}) = 9.0f;
    CHECK(m(1, 2) == 9.0f);

    auto m2 = t.matrix(4, 6);
    CHECK(m2.data() == t.data());
    CHECK(m2(3, 5) == 7.0f);
    CHECK_THROWS_WITH_AS(t.matrix(5, 5), "Tensor::matrix: 5x5 does not fit shape (2,3,4)", Error);

    auto arr = t.array();
    CHECK(arr.size() == 24);
    CHECK(arr.data() == t.data());
    arr += 1.0f;
    CHECK(t.at({0, 0, 0}) == 1.0f);
    CHECK(t.at({1, 2, 3}) == 8.0f);

    const Tensorf s = Tensorf::scalar(4.0f);
    CHECK(s.matrix().rows() == 1);
    CHECK(s.matrix().cols() == 1);
}

TEST_CASE("tensor: printing") {
    std::ostringstream out;
    out << Tensorf::from_data({2}, {1, 2});
    CHECK(out.str() == "tensor(2,) [1, 2]");
    std::ostringstream many;
    many << Tensorf::zeros({20});
    CHECK(many.str().find(", ...]") != std::string::npos);
}

// ---- buffer pool ---------------------------------------------------------------------------------

TEST_CASE("buffer pool: storage is aligned and reused") {
    auto& pool = babygpt::kernels::BufferPool::instance();
    const Shape odd{7, 13, 3};  // a size no other test is likely to use
    const float* first = nullptr;
    {
        const Tensorf a = Tensorf::zeros(odd);
        first = a.data();
        CHECK(reinterpret_cast<std::uintptr_t>(a.data()) % babygpt::kernels::buffer_alignment == 0);
    }
    CHECK(pool.cached_bytes() > 0);
    const Tensorf b = Tensorf::ones(odd);
    CHECK(b.data() == first);  // the freed buffer came back from the pool
    const std::vector<float> values = b.to_vector();
    CHECK(std::all_of(values.begin(), values.end(), [](float v) { return v == 1.0f; }));

    pool.clear();
    CHECK(pool.cached_bytes() == 0);
}
