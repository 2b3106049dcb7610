// Tests for ops/embedding.hpp: row lookup and the scatter-add backward (repeated indices).

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "babygpt/ops/embedding.hpp"
#include "babygpt/gradcheck.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/shape_ops.hpp"

#include "helpers.hpp"

using namespace babygpt;
using namespace babygpt_test;

// ---- forward -------------------------------------------------------------------------------------

TEST_CASE_TEMPLATE("ops::embedding: looks up rows", T, float, double) {
    // weight rows: [1 2 3], [4 5 6], [7 8 9], [10 11 12]
    const Tensor<T> w = iota<T>({4, 3});
    const IndexTensor idx = IndexTensor::from_data({2, 3}, {0, 3, 1, 1, 1, 2});
    check_values(embedding(w, idx), {2, 3, 3},
                 {1, 2, 3, 10, 11, 12, 4, 5, 6, 4, 5, 6, 4, 5, 6, 7, 8, 9}, 1e-12);
    check_values(embedding(w, IndexTensor::from_data({2}, {2, 2})), {2, 3}, {7, 8, 9, 7, 8, 9}, 1e-12);
    check_values(embedding(w, IndexTensor::scalar(3)), {3}, {10, 11, 12}, 1e-12);
    check_values(embedding(w, IndexTensor::zeros({0})), {0, 3}, {}, 1e-12);
    // The result is a copy, not a view of the weight.
    const Tensor<T> e = embedding(w, IndexTensor::from_data({1}, {0}));
    e(0, 0) = T(100);
    CHECK(w(0, 0) == T(1));
}

TEST_CASE("ops::embedding: positions (arange) as indices") {
    const Tensord wpe = iota<double>({5, 2}, 0.0);
    check_values(embedding(wpe, IndexTensor::arange(3)), {3, 2}, {0, 1, 2, 3, 4, 5}, 1e-12);
}

// ---- errors --------------------------------------------------------------------------------------

TEST_CASE("ops::embedding: an index out of range throws") {
    const Tensorf w = Tensorf::zeros({4, 3});
    CHECK_THROWS_WITH_AS(embedding(w, IndexTensor::from_data({3}, {0, 4, 1})),
                         "embedding: index 4 is out of range for 4 embeddings (weight (4,3))", Error);
    CHECK_THROWS_WITH_AS(embedding(w, IndexTensor::from_data({2, 1}, {-1, 0})),
                         doctest::Contains("embedding: index -1 is out of range for 4 embeddings"), Error);
    CHECK_THROWS_WITH_AS(embedding(Tensorf::zeros({4}), IndexTensor::from_data({1}, {0})),
                         "embedding: the weight must be 2-d (num_embeddings, dim), got (4,)", Error);
}

// ---- gradients -----------------------------------------------------------------------------------

TEST_CASE("ops::embedding: repeated indices accumulate their gradients") {
    Tensord w = Tensord::zeros({4, 2});
    w.requires_grad_();
    const IndexTensor idx = IndexTensor::from_data({2, 3}, {1, 3, 1, 1, 0, 3});
    // L = sum(embedding(w, idx) * g) with g[b, t, :] = (b*3 + t + 1) * [1, 10]
    Tensord g = Tensord::empty({2, 3, 2});
    for (std::int64_t i = 0; i < 6; ++i) {
        g.data()[2 * i] = double(i + 1);
        g.data()[2 * i + 1] = 10.0 * double(i + 1);
    }
    sum(embedding(w, idx) * g).backward();
    // row 0: position 5; row 1: positions 1, 3, 4; row 2: none; row 3: positions 2, 6
    check_values(w.grad(), {4, 2}, {5, 50, 8, 80, 0, 0, 8, 80}, 1e-12);
}

TEST_CASE("ops::embedding: gradcheck with repeated indices") {
    const IndexTensor idx = IndexTensor::from_data({2, 4}, {0, 2, 2, 4, 1, 2, 0, 0});
    check_gradcheck([idx](const std::vector<Tensord>& in) { return embedding(in[0], idx); }, {param({5, 3}, 1)});
    const IndexTensor flat = IndexTensor::from_data({5}, {3, 3, 3, 1, 3});
    check_gradcheck([flat](const std::vector<Tensord>& in) { return embedding(in[0], flat); }, {param({4, 2}, 2)});
}

TEST_CASE("ops::embedding: gradcheck with the weight used more than once") {
    const IndexTensor a = IndexTensor::from_data({2, 3}, {0, 1, 1, 2, 3, 0});
    const IndexTensor b = IndexTensor::from_data({2, 3}, {3, 3, 2, 1, 0, 0});
    // Token plus position embeddings from the same table, times the table itself.
    check_gradcheck(
        [a, b](const std::vector<Tensord>& in) { return (embedding(in[0], a) + embedding(in[0], b)) * embedding(in[0], a); },
        {param({4, 3}, 3)});
    // Tied weights: logits = embedding(w, idx) @ w^T, as in GPT-2's lm_head.
    check_gradcheck([a](const std::vector<Tensord>& in) { return matmul(embedding(in[0], a), transpose(in[0])); },
                    {param({4, 3}, 4)});
}
