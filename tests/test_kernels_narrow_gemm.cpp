// Tests for kernels/narrow_gemm.hpp: the three narrow-side products against Eigen's, for every width the
// kernels serve (1, 2 and 4 SIMD packets), with row and column counts that leave partial tiles, with
// and without accumulation, bias and scaling; and which widths they accept.

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <Eigen/Core>

#include "babygpt/kernels/narrow_gemm.hpp"

namespace {

template <typename T>
using Matrix = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

template <typename T>
Matrix<T> random_matrix(std::int64_t rows, std::int64_t cols, std::mt19937& rng) {
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    Matrix<T> m(rows, cols);
    for (std::int64_t i = 0; i < m.size(); ++i) m.data()[i] = static_cast<T>(uniform(rng));
    return m;
}

template <typename T>
double narrow_tolerance() {
    return std::is_same_v<T, float> ? 1e-4 : 1e-12;
}

/// The widths the kernels serve: 1, 2 and 4 packets.
template <typename T>
std::vector<std::int64_t> narrow_widths() {
    const std::int64_t P = babygpt::kernels::kPacketSize<T>;
    return {P, 2 * P, 4 * P};
}

template <typename T>
void check_rows_times_narrow() {
    std::mt19937 rng(1);
    for (const std::int64_t C : narrow_widths<T>())
        for (const std::int64_t M : {1, 5, 17, 40})
            for (const std::int64_t K : {1, 3, 70}) {
                CAPTURE(C);
                CAPTURE(M);
                CAPTURE(K);
                // A is a block of a wider matrix: its rows are lda = K + 3 apart.
                const Matrix<T> wide = random_matrix<T>(M, K + 3, rng), B = random_matrix<T>(K, C, rng);
                const auto A = wide.leftCols(K);
                Matrix<T> out = random_matrix<T>(M, C, rng);
                const Matrix<T> before = out;
                babygpt::kernels::rows_times_narrow(wide.data(), K + 3, B.data(), M, K, C, out.data(), false, T(0.5));
                CHECK((out - T(0.5) * A * B).cwiseAbs().maxCoeff() < narrow_tolerance<T>());
                out = before;
                babygpt::kernels::rows_times_narrow(wide.data(), K + 3, B.data(), M, K, C, out.data(), true, T(1));
                CHECK((out - (before + A * B)).cwiseAbs().maxCoeff() < narrow_tolerance<T>());
            }
}

template <typename T>
void check_columns_times_narrow() {
    std::mt19937 rng(2);
    for (const std::int64_t C : narrow_widths<T>())
        for (const std::int64_t M : {1, 6, 33})
            for (const std::int64_t K : {1, 7, 19, 50}) {
                CAPTURE(C);
                CAPTURE(M);
                CAPTURE(K);
                const Matrix<T> wide = random_matrix<T>(M, K + 2, rng), X = random_matrix<T>(M, C, rng);
                const auto A = wide.leftCols(K);
                Matrix<T> out = random_matrix<T>(K, C, rng);
                const Matrix<T> before = out;
                babygpt::kernels::columns_times_narrow(wide.data(), K + 2, X.data(), M, K, C, out.data(), false, T(2));
                CHECK((out - T(2) * A.transpose() * X).cwiseAbs().maxCoeff() < narrow_tolerance<T>());
                out = before;
                babygpt::kernels::columns_times_narrow(wide.data(), K + 2, X.data(), M, K, C, out.data(), true, T(1));
                CHECK((out - (before + A.transpose() * X)).cwiseAbs().maxCoeff() < narrow_tolerance<T>());
            }
}

template <typename T>
void check_narrow_times_wide() {
    std::mt19937 rng(3);
    const std::int64_t W = babygpt::kernels::kWideTileColumns<T>;
    for (const std::int64_t C : {std::int64_t(1), std::int64_t(3), std::int64_t(babygpt::kernels::kPacketSize<T> * 2)})
        for (const std::int64_t M : {1, 9, 20})
            for (const std::int64_t V : {std::int64_t(1), W - 1, W, 3 * W + 5}) {
                CAPTURE(C);
                CAPTURE(M);
                CAPTURE(V);
                const Matrix<T> X = random_matrix<T>(M, C, rng), B = random_matrix<T>(V, C, rng);
                // W^T in panels of W columns: panel p (C, W) holds columns p W .. p W + W - 1, zeros past V.
                const std::int64_t panel_count = babygpt::kernels::wide_panel_count<T>(V);
                CHECK(panel_count == (V + W - 1) / W);
                Matrix<T> panels = random_matrix<T>(panel_count * C, W, rng);  // garbage wide_panels must overwrite
                babygpt::kernels::wide_panels(B.data(), V, C, panels.data());
                for (std::int64_t p = 0; p < panel_count; ++p) {
                    const std::int64_t width = std::min(W, V - p * W);
                    CHECK(panels.block(p * C, 0, C, width) == B.middleRows(p * W, width).transpose());
                    CHECK(panels.block(p * C, width, C, W - width).isZero(0));
                }
                const Matrix<T> bias = random_matrix<T>(1, V, rng);  // exactly V values: no padding needed
                // The output is a block of a wider matrix (rows V + 4 apart); the extra columns stay untouched.
                Matrix<T> out = Matrix<T>::Constant(M, V + 4, T(7));
                babygpt::kernels::narrow_times_wide(X.data(), M, C, panels.data(), V, bias.data(), out.data(), V + 4);
                Matrix<T> expected = X * B.transpose();
                expected.rowwise() += bias.leftCols(V).row(0);
                CHECK((out.leftCols(V) - expected).cwiseAbs().maxCoeff() < narrow_tolerance<T>());
                CHECK((out.rightCols(4).array() == T(7)).all());
                babygpt::kernels::narrow_times_wide(X.data(), M, C, panels.data(), V, static_cast<const T*>(nullptr),
                                                   out.data(), V + 4);
                CHECK((out.leftCols(V) - X * B.transpose()).cwiseAbs().maxCoeff() < narrow_tolerance<T>());
            }
}

}  // namespace

TEST_CASE("kernels::narrow_gemm: rows_times_narrow equals A B, float and double") {
    check_rows_times_narrow<float>();
    check_rows_times_narrow<double>();
}

TEST_CASE("kernels::narrow_gemm: columns_times_narrow equals A^T X, float and double") {
    check_columns_times_narrow<float>();
    check_columns_times_narrow<double>();
}

TEST_CASE("kernels::narrow_gemm: narrow_times_wide equals X B^T + bias, partial tiles included") {
    check_narrow_times_wide<float>();
    check_narrow_times_wide<double>();
}

TEST_CASE("kernels::narrow_gemm: the widths served are 1, 2 and 4 packets") {
    const std::int64_t P = babygpt::kernels::kPacketSize<float>;
    if (P == 1) {  // built without SIMD: the kernels are never used
        CHECK_FALSE(babygpt::kernels::narrow_product_fits<float>(32));
        return;
    }
    CHECK(babygpt::kernels::narrow_product_fits<float>(P));
    CHECK(babygpt::kernels::narrow_product_fits<float>(2 * P));
    CHECK(babygpt::kernels::narrow_product_fits<float>(4 * P));
    CHECK_FALSE(babygpt::kernels::narrow_product_fits<float>(3 * P));
    CHECK_FALSE(babygpt::kernels::narrow_product_fits<float>(8 * P));
    CHECK_FALSE(babygpt::kernels::narrow_product_fits<float>(P + 1));
    CHECK_FALSE(babygpt::kernels::narrow_product_fits<float>(0));
}
