// Step 5 (v5): after the tokens have communicated, each one computes on what it gathered: a
// feed-forward layer (Linear then ReLU) applied to every position on its own.
//
//     x = embed(idx);  x = sa_heads(x);  x = ffwd(x);  logits = lm_head(x)

#include "early_modules.hpp"
#include "language_model_frame.hpp"
#include "ladder.hpp"

class FeedForwardModel : public tutorial::LanguageModelFrame {
public:
    FeedForwardModel(std::int64_t vocab_size, const tutorial::LadderSettings& s, babygpt::Generator& gen)
        : LanguageModelFrame(vocab_size, s.n_embed, s.block_size, gen),
          sa_heads(s.n_embed, s.n_head, s.block_size, gen),
          ffwd(s.n_embed, gen) {
        register_module("sa_heads", sa_heads);
        register_module("ffwd", ffwd);
    }

    /// idx (B, T) -> logits (B, T, V)
    babygpt::Tensorf forward(const babygpt::IndexTensor& idx) const {
        return lm_head.forward(ffwd.forward(sa_heads.forward(embed(idx))));
    }

    tutorial::MultiHeadConcat sa_heads;
    tutorial::ReluFeedForward ffwd;
};

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v5_feedforward", "a feed-forward layer after attention", {});
    babygpt::Generator gen(ladder.settings().seed);
    FeedForwardModel model(ladder.vocab_size(), ladder.settings(), gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
