// Step 6 (v6): communication then computation is one Block, and the model stacks n_layer of them.
// Without residual connections the gradient must pass through every layer in turn (step 7 adds them).
//
//     Block: x = sa(x); x = ffwd(x)        model: x = embed(idx); x = blocks(x); logits = lm_head(x)

#include "early_modules.hpp"
#include "ladder.hpp"

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v6_block", "n_layer blocks of attention and feed-forward", {});
    const tutorial::LadderSettings& s = ladder.settings();
    babygpt::Generator gen(s.seed);
    tutorial::StackedBlocksModel model(ladder.vocab_size(), s.n_embed, s.n_head, s.n_layer, s.block_size,
                                       /*residual=*/false, gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
