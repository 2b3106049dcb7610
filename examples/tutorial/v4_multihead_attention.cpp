// Step 4 (v4): several smaller heads instead of one: n_head heads of size C / n_head attend
// independently (each can look for something else), and their outputs are concatenated.
//
//     x = embed(idx);  x = cat(head_1(x), ..., head_n(x));  logits = lm_head(x)

#include "early_modules.hpp"
#include "language_model_frame.hpp"
#include "ladder.hpp"

class MultiHeadModel : public tutorial::LanguageModelFrame {
public:
    MultiHeadModel(std::int64_t vocab_size, const tutorial::LadderSettings& s, babygpt::Generator& gen)
        : LanguageModelFrame(vocab_size, s.n_embed, s.block_size, gen), sa_heads(s.n_embed, s.n_head, s.block_size, gen) {
        register_module("sa_heads", sa_heads);
    }

    /// idx (B, T) -> logits (B, T, V)
    babygpt::Tensorf forward(const babygpt::IndexTensor& idx) const {
        return lm_head.forward(sa_heads.forward(embed(idx)));
    }

    tutorial::MultiHeadConcat sa_heads;
};

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v4_multihead_attention", "several heads, concatenated", {});
    babygpt::Generator gen(ladder.settings().seed);
    MultiHeadModel model(ladder.vocab_size(), ladder.settings(), gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
