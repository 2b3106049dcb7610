#pragma once
// What the models of steps 2 to 7 share around their middle: token and position embeddings in, the
// lm_head out. Each step's model derives from it and adds only what the step adds.

#include <babygpt/nn/embedding.hpp>
#include <babygpt/nn/linear.hpp>
#include <babygpt/ops/elementwise.hpp>

namespace tutorial {

class LanguageModelFrame : public babygpt::nn::Module<float> {
public:
    LanguageModelFrame(std::int64_t vocab_size, std::int64_t n_embed, std::int64_t block_size, babygpt::Generator& gen)
        : token_embedding_table(vocab_size, n_embed, gen),
          postion_embedding_table(block_size, n_embed, gen),  // sic: the tutorial's spelling
          lm_head(n_embed, vocab_size, true, gen) {
        register_module("token_embedding_table", token_embedding_table);
        register_module("postion_embedding_table", postion_embedding_table);
        register_module("lm_head", lm_head);
    }

    /// idx (B, T) -> x (B, T, C): what each token is, plus where it is.
    babygpt::Tensorf embed(const babygpt::IndexTensor& idx) const {
        const babygpt::IndexTensor positions = babygpt::IndexTensor::arange(idx.size(1));  // (T)
        return token_embedding_table.forward(idx) + postion_embedding_table.forward(positions);
    }

    babygpt::nn::Embedding<float> token_embedding_table, postion_embedding_table;
    babygpt::nn::Linear<float> lm_head;  // (B, T, C) -> (B, T, V)
};

}  // namespace tutorial
