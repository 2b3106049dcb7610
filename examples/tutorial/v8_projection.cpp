// Step 8 (v8): the heads' concatenation is projected back (a Linear(C, C) after attention), and the
// feed-forward widens to 4C and back, Linear(C, 4C) ReLU Linear(4C, C). This is babygpt's Block
// without its LayerNorms (NormPlacement::none):
//
//     Block: x = x + proj(cat(heads(x))); x = x + ffwd(x)

#include "gpt_step.hpp"

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v8_projection", "the attention projection and a 4C feed-forward", {});
    return tutorial::train_gpt_step(ladder, babygpt::NormPlacement::none);
}
