// Step 2 (v2): where a token is matters too. A second table holds one vector per position 0..T-1,
// added to the token's vector. (The tokens still do not see each other: that is step 3.)
//
//     x = token_embedding_table(idx) + postion_embedding_table(arange(T));  logits = lm_head(x)

#include "language_model_frame.hpp"
#include "ladder.hpp"

class PositionModel : public tutorial::LanguageModelFrame {
public:
    using LanguageModelFrame::LanguageModelFrame;

    /// idx (B, T) -> logits (B, T, V)
    babygpt::Tensorf forward(const babygpt::IndexTensor& idx) const { return lm_head.forward(embed(idx)); }
};

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v2_position", "a learned position embedding", {});
    const tutorial::LadderSettings& s = ladder.settings();
    babygpt::Generator gen(s.seed);
    PositionModel model(ladder.vocab_size(), s.n_embed, s.block_size, gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
