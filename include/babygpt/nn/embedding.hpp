#pragma once
// Embedding(num, dim): a lookup table of `num` vectors of size `dim`, initialised N(0, 1) as PyTorch's.

#include "babygpt/nn/module.hpp"
#include "babygpt/ops/embedding.hpp"

namespace babygpt::nn {

/// Token (or position) ids -> vectors. With no Generator it draws its table from
/// babygpt::default_generator() (see babygpt::manual_seed).
///
///     babygpt::Generator gen(42);
///     babygpt::nn::Embedding<float> tok(/*vocab_size=*/65, /*n_embed=*/32, gen);
///     babygpt::IndexTensor idx = babygpt::IndexTensor::rand({4, 8}, gen, 0, 65);
///     babygpt::Tensorf x = tok.forward(idx);  // (B, T) ids -> (B, T, n_embed)
template <typename T>
class Embedding : public Module<T> {
public:
    Embedding(std::int64_t num_embeddings, std::int64_t embedding_dim, Generator& gen = default_generator()) {
        BABYGPT_CHECK(num_embeddings > 0 && embedding_dim > 0, "Embedding: sizes must be positive, got num=",
                      num_embeddings, ", dim=", embedding_dim);
        weight = this->register_parameter("weight", Tensor<T>::randn({num_embeddings, embedding_dim}, gen));
    }

    Tensor<T> forward(const IndexTensor& idx) const { return embedding(weight, idx); }

    Tensor<T> weight;  // (num, dim)
};

}  // namespace babygpt::nn
