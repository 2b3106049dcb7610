// Step 11 (v11): the same model, scaled up: a context of 256 characters, 384-wide embeddings, 6 heads,
// 6 layers (10.8M parameters for a vocabulary of 65), batch 64, learning rate 3e-4.

#include "gpt_step.hpp"

int main(int argc, char** argv) {
    tutorial::LadderSettings s;
    s.batch_size = 64;
    s.block_size = 256;
    s.n_embed = 384;
    s.n_head = 6;
    s.n_layer = 6;
    s.dropout = 0.2;
    s.learning_rate = 3e-4;
    const tutorial::Ladder ladder(argc, argv, "v11_hyper_params", "the large configuration", s);
    return tutorial::train_gpt_step(ladder, babygpt::NormPlacement::pre);
}
