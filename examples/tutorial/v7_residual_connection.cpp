// Step 7 (v7): residual connections. Each sublayer adds its output to its input instead of replacing
// it, so x flows unchanged from the embeddings to the lm_head and every block learns a correction; the
// gradient reaches the lowest block directly.
//
//     Block: x = x + sa(x); x = x + ffwd(x)

#include "early_modules.hpp"
#include "ladder.hpp"

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v7_residual_connection", "residual connections", {});
    const tutorial::LadderSettings& s = ladder.settings();
    babygpt::Generator gen(s.seed);
    tutorial::StackedBlocksModel model(ladder.vocab_size(), s.n_embed, s.n_head, s.n_layer, s.block_size,
                                       /*residual=*/true, gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx); }});
}
