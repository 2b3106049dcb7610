// Step 10 (v10): dropout 0.2 in training, on the attention weights, after the projection and after the
// feed-forward: each step trains a random subnetwork, so no unit can rely on another being there.
// Evaluation and sampling run without it.

#include "gpt_step.hpp"

int main(int argc, char** argv) {
    tutorial::LadderSettings s;
    s.dropout = 0.2;
    const tutorial::Ladder ladder(argc, argv, "v10_dropout", "dropout 0.2", s);
    return tutorial::train_gpt_step(ladder, babygpt::NormPlacement::pre);
}
