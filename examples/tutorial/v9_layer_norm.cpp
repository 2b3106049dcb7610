// Step 9 (v9), BabyGPT itself: LayerNorm before attention and before the feed-forward in each block
// (Pre-LN), and once more before the lm_head. Each normalises every position's C numbers to mean 0 and
// variance 1 (then scales and shifts them by learned weights), whatever the layers below did to them.
//
//     Block: x = x + sa(ln1(x)); x = x + ffwd(ln2(x))        model: ... x = ln_final(x); lm_head(x)

#include "gpt_step.hpp"

int main(int argc, char** argv) {
    const tutorial::Ladder ladder(argc, argv, "v9_layer_norm", "Pre-LN LayerNorms", {});
    return tutorial::train_gpt_step(ladder, babygpt::NormPlacement::pre);
}
