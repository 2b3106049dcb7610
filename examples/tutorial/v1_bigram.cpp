// Step 1 (v1): a bigram model. Each token looks up a vector of n_embed numbers, and a linear layer
// turns it into the logits of the next token: the prediction depends on the current token alone.
//
//     logits = lm_head(token_embedding_table(idx))

#include <babygpt/nn/embedding.hpp>
#include <babygpt/nn/linear.hpp>

#include "ladder.hpp"

using babygpt::Tensorf;

class BigramLanguageModel : public babygpt::nn::Module<float> {
public:
    BigramLanguageModel(std::int64_t vocab_size, std::int64_t n_embed, babygpt::Generator& gen)
        : token_embedding_table(vocab_size, n_embed, gen), lm_head(n_embed, vocab_size, true, gen) {
        register_module("token_embedding_table", token_embedding_table);
        register_module("lm_head", lm_head);
    }

    /// idx (B, T) -> logits (B, T, V)
    Tensorf forward(const babygpt::IndexTensor& idx) const {
        return lm_head.forward(token_embedding_table.forward(idx));
    }

    babygpt::nn::Embedding<float> token_embedding_table;  // (V, C)
    babygpt::nn::Linear<float> lm_head;                   // C -> V
};

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v1_bigram", "token embedding and a linear head", {});
    babygpt::Generator gen(ladder.settings().seed);
    BigramLanguageModel model(ladder.vocab_size(), ladder.settings().n_embed, gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
