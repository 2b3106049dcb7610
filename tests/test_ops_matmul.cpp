// Tests for ops/matmul.hpp: 2-d products, (B, T, C) @ (C, D) and batched N-d @ N-d.

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <type_traits>
#include <vector>

#include "babygpt/ops/matmul.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/shape_ops.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

namespace {

Fn matmul_fn() {
    return [](const std::vector<Tensord>& in) { return matmul(in[0], in[1]); };
}

}  // namespace

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::matmul: 2-d by hand", T, float, double) {
    const Tensor<T> a = Tensor<T>::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
    const Tensor<T> b = Tensor<T>::from_data({3, 2}, {7, 8, 9, 10, 11, 12});
    check_values(matmul(a, b), {2, 2}, {58, 64, 139, 154});
    check_values(matmul(b, a), {3, 3}, {39, 54, 69, 49, 68, 87, 59, 82, 105});
    // (1, K) @ (K, 1) is a dot product.
    const Tensor<T> r = Tensor<T>::from_data({1, 3}, {1, -1, 2});
    const Tensor<T> c = Tensor<T>::from_data({3, 1}, {3, 4, 0.5});
    check_values(matmul(r, c), {1, 1}, {0});
}

TEST_CASE_TEMPLATE("ops::matmul: (B T C) @ (C D)", T, float, double) {
    // torch: a = torch.sin(1.3*torch.arange(24.)+0.5).view(2,3,4); b = torch.sin(0.7*torch.arange(20.)-1.0).view(4,5);
    //        (a @ b).flatten()   (in float64)
    const Tensor<T> a = sin_seq<T>({2, 3, 4}, 1.3, 0.5);
    const Tensor<T> b = sin_seq<T>({4, 5}, 0.7, -1.0);
    check_values(matmul(a, b), {2, 3, 5},
                 {0.23929368014823627, 0.48430867653356513, 0.5015457348133392, 0.2828979971421156,
                  -0.0688010889881851, 0.6175941447772587, 0.6116387722366441, 0.31802012799368895,
                  -0.1251683516462714, -0.5094881996975452, 0.3394126257030531, 0.08881724667955937,
                  -0.20355027126509284, -0.4001849160730482, -0.40860634179004673, -0.2995531975938275,
                  -0.5284140506999014, -0.5087535190645107, -0.24981825792006085, 0.12661043344215028,
                  -0.6201039597311425, -0.5839588308840911, -0.273168739263819, 0.16609687881151947,
                  0.5272445394464772, -0.2815048885530067, -0.018774844544648728, 0.2527853022180958,
                  0.40545657146836617, 0.3674352797233741});
}

TEST_CASE_TEMPLATE("ops::matmul: batched 3-d @ 3-d", T, float, double) {
    // torch: a = torch.sin(1.3*torch.arange(24.)+0.5).view(2,3,4); b = torch.sin(0.9*torch.arange(16.)+0.3).view(2,4,2);
    //        (a @ b).flatten()
    const Tensor<T> a = sin_seq<T>({2, 3, 4}, 1.3, 0.5);
    const Tensor<T> b = sin_seq<T>({2, 4, 2}, 0.9, 0.3);
    check_values(matmul(a, b), {2, 3, 2},
                 {1.477750062808727, 0.24638813435892815, -0.12010573849647417, -1.3735681506673045,
                  -1.5902931444176092, -1.5334672898686488, -0.03477023067140694, 1.30971067946806,
                  1.4869950139393342, 1.51464459676228, 1.428134139013638, 0.10956180988827202});
}

TEST_CASE_TEMPLATE("ops::matmul: batched 4-d (B nh T hs) @ (B nh hs T)", T, float, double) {
    // torch: q = torch.sin(1.3*torch.arange(24.)+0.5).view(2,2,3,2); k = torch.sin(0.9*torch.arange(24.)-0.2).view(2,2,2,3);
    //        (q @ k).flatten()
    const Tensor<T> q = sin_seq<T>({2, 2, 3, 2}, 1.3, 0.5);
    const Tensor<T> k = sin_seq<T>({2, 2, 2, 3}, 0.9, -0.2);
    const std::vector<double> expected{
        0.48757352876167304,  0.05999631488145127,  -0.41298491398204157, -0.5777681358740674,
        0.2699604408393305,   0.9133883380030092,   0.5025925066091872,   -0.522648446100942,
        -1.1523594746042245,  -0.971170135545077,   -0.2663086120395969,  0.6400899597848004,
        0.5215727525721905,   -0.028203305432073417, -0.5566356641617087, 0.07731048405948981,
        0.31464280250474397,  0.313859720903644,    -0.3120885922457714,  -0.6562152657185727,
        -0.5037313087583227,  0.7487731732938101,   1.0415852138724913,   0.5461463301991348,
        -0.9711420297939135,  -1.1288300451668802,  -0.43224198732440133, 0.26159447821072773,
        0.9223704307846164,   0.8851148302169202,   -0.3500150185449413,  -0.5984605666477925,
        -0.394003089145413,   0.33825338759203993,  0.10325782700598485,  -0.20988119845426623};
    check_values(matmul(q, k), {2, 2, 3, 3}, expected);
    // The same scores as q @ transpose(k^T).
    check_values(matmul(q, transpose(transpose(k))), {2, 2, 3, 3}, expected);
}

TEST_CASE_TEMPLATE("ops::matmul: (B T C) @ (C D) equals a loop of 2-d products", T, float, double) {
    const Tensor<T> a = sin_seq<T>({3, 2, 4}, 0.37, 0.1);
    const Tensor<T> b = sin_seq<T>({4, 3}, 1.1, -0.4);
    const Tensor<T> c = matmul(a, b);
    REQUIRE(c.shape() == Shape{3, 2, 3});
    for (std::int64_t i = 0; i < 3; ++i)
        for (std::int64_t t = 0; t < 2; ++t)
            for (std::int64_t d = 0; d < 3; ++d) {
                double expected = 0;
                for (std::int64_t k = 0; k < 4; ++k) expected += double(a(i, t, k)) * double(b(k, d));
                CHECK(double(c(i, t, d)) == doctest::Approx(expected).epsilon(tolerance<T>()));
            }
}

TEST_CASE_TEMPLATE("ops::matmul: an empty inner dimension gives zeros", T, float, double) {
    // As in PyTorch: a sum over nothing is 0.
    check_values(matmul(Tensor<T>::zeros({3, 0}), Tensor<T>::zeros({0, 2})), {3, 2}, std::vector<double>(6, 0.0));
    check_values(matmul(Tensor<T>::zeros({2, 3, 0}), Tensor<T>::zeros({0, 2})), {2, 3, 2},
                 std::vector<double>(12, 0.0));
    check_values(matmul(Tensor<T>::zeros({2, 3, 0}), Tensor<T>::zeros({2, 0, 4})), {2, 3, 4},
                 std::vector<double>(24, 0.0));
    CHECK(matmul(Tensor<T>::zeros({0, 3}), Tensor<T>::zeros({3, 2})).shape() == Shape{0, 2});
}

// ---- errors --------------------------------------------------------------------------------------

TEST_CASE("ops::matmul: shape errors name both shapes") {
    CHECK_THROWS_WITH_AS(matmul(Tensorf::zeros({2, 3}), Tensorf::zeros({4, 5})),
                         "matmul: (2,3) @ (4,5): inner dimensions 3 and 4 differ", Error);
    CHECK_THROWS_WITH_AS(matmul(Tensorf::zeros({2, 7, 3}), Tensorf::zeros({4, 5})),
                         "matmul: (2,7,3) @ (4,5): inner dimensions 3 and 4 differ", Error);
    CHECK_THROWS_WITH_AS(matmul(Tensorf::zeros({3}), Tensorf::zeros({3, 2})),
                         "matmul: (3,) @ (3,2): both operands need at least 2 dimensions", Error);
    CHECK_THROWS_AS(matmul(Tensorf::zeros({2, 3}), Tensorf::zeros({3})), Error);
    CHECK_THROWS_WITH_AS(matmul(Tensorf::zeros({2, 3, 4}), Tensorf::zeros({3, 4, 5})),
                         doctest::Contains("matmul: (2,3,4) @ (3,4,5): batch dimensions differ"), Error);
    CHECK_THROWS_WITH_AS(matmul(Tensorf::zeros({3, 4}), Tensorf::zeros({2, 4, 5})),
                         doctest::Contains("matmul: (3,4) @ (2,4,5): batch dimensions differ"), Error);
    CHECK_THROWS_AS(matmul(Tensorf::zeros({2, 2, 3, 4}), Tensorf::zeros({2, 4, 5})), Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::matmul: gradcheck 2-d") {
    check_gradcheck(matmul_fn(), {param({3, 4}, 1), param({4, 2}, 2)});
}

TEST_CASE("ops::matmul: gradcheck (B T C) @ (C D)") {
    check_gradcheck(matmul_fn(), {param({2, 3, 4}, 3), param({4, 5}, 4)});
}

TEST_CASE("ops::matmul: gradcheck batched 3-d") {
    check_gradcheck(matmul_fn(), {param({2, 3, 4}, 5), param({2, 4, 2}, 6)});
}

TEST_CASE("ops::matmul: gradcheck batched 4-d (B nh T hs) @ (B nh hs T)") {
    check_gradcheck(matmul_fn(), {param({2, 2, 3, 2}, 7), param({2, 2, 2, 3}, 8)});
    // Attention scores: q @ transpose(k) with both from the same (B, nh, T, hs) layout.
    check_gradcheck([](const std::vector<Tensord>& in) { return matmul(in[0], transpose(in[1])); },
                    {param({2, 2, 3, 2}, 9), param({2, 2, 3, 2}, 10)});
}

TEST_CASE("ops::matmul: gradcheck when only one operand requires grad") {
    Generator gen(11);
    const Tensord w = Tensord::randn({4, 3}, gen);
    const Tensord x = Tensord::randn({2, 5, 4}, gen);
    check_gradcheck([w](const std::vector<Tensord>& in) { return matmul(in[0], w); }, {param({2, 5, 4}, 12)});
    check_gradcheck([x](const std::vector<Tensord>& in) { return matmul(x, in[0]); }, {param({4, 3}, 13)});
}

TEST_CASE("ops::matmul: gradcheck with an input used more than once") {
    // x @ x + x for a square x; and a 3-d batch multiplied by itself.
    check_gradcheck([](const std::vector<Tensord>& in) { return matmul(in[0], in[0]) + in[0]; }, {param({3, 3}, 14)});
    check_gradcheck([](const std::vector<Tensord>& in) { return matmul(in[0], transpose(in[0])); },
                    {param({2, 3, 4}, 15)});
    check_gradcheck([](const std::vector<Tensord>& in) { return matmul(matmul(in[0], in[1]), in[1]); },
                    {param({2, 3, 4}, 16), param({4, 4}, 17)});
}

TEST_CASE("ops::matmul: hand-computed gradients") {
    // L = sum(a @ b): dL/da = row sums of b broadcast over rows; dL/db = column sums of a broadcast over columns.
    Tensord a = Tensord::from_data({2, 3}, {1, 2, 3, 4, 5, 6});
    Tensord b = Tensord::from_data({3, 2}, {7, 8, 9, 10, 11, 12});
    a.requires_grad_();
    b.requires_grad_();
    sum(matmul(a, b)).backward();
    check_values(a.grad(), {2, 3}, {15, 19, 23, 15, 19, 23});
    check_values(b.grad(), {3, 2}, {5, 5, 7, 7, 9, 9});
}
