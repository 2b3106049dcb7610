// Step 3 (v3): tokens talk to each other. One head of causal self-attention (head size C): each
// position mixes the values of the positions up to it, weighted by how well its query matches their
// keys, softmax(q k^T / sqrt(C)) v (babygpt::nn::Head, whose forward is exactly that).
//
//     x = embed(idx);  x = sa_head(x);  logits = lm_head(x)

#include <babygpt/nn/attention.hpp>

#include "language_model_frame.hpp"
#include "ladder.hpp"

class SelfAttentionModel : public tutorial::LanguageModelFrame {
public:
    SelfAttentionModel(std::int64_t vocab_size, std::int64_t n_embed, std::int64_t block_size, babygpt::Generator& gen)
        : LanguageModelFrame(vocab_size, n_embed, block_size, gen), sa_head(n_embed, n_embed, block_size, 0.0, gen) {
        register_module("sa_head", sa_head);
    }

    /// idx (B, T) -> logits (B, T, V)
    babygpt::Tensorf forward(const babygpt::IndexTensor& idx) const {
        return lm_head.forward(sa_head.forward(embed(idx)));
    }

    babygpt::nn::Head<float> sa_head;  // (B, T, C) -> (B, T, C)
};

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v3_self_attention", "one causal self-attention head", {});
    const tutorial::LadderSettings& s = ladder.settings();
    babygpt::Generator gen(s.seed);
    SelfAttentionModel model(ladder.vocab_size(), s.n_embed, s.block_size, gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
