#pragma once
// Steps 8 to 11 are the library's GPT (models/gpt.hpp) with the step's configuration: step 8 has no
// LayerNorm (NormPlacement::none), step 9 is the reference (Pre-LN), step 10 adds dropout, step 11 is
// the large preset.

#include <babygpt/models/gpt.hpp>

#include "ladder.hpp"

namespace tutorial {

/// Builds GPT(config of `s`, with `norm`) and trains it on the ladder.
inline int train_gpt_step(const Ladder& ladder, babygpt::NormPlacement norm) {
    const LadderSettings& s = ladder.settings();
    babygpt::GPTConfig config;
    config.vocab_size = ladder.vocab_size();
    config.block_size = s.block_size;
    config.n_embed = s.n_embed;
    config.n_head = s.n_head;
    config.n_layer = s.n_layer;
    config.dropout = s.dropout;
    config.norm = norm;
    babygpt::Generator gen(s.seed);
    babygpt::GPT<float> model(config, gen);
    return ladder.train({model, [&](const babygpt::IndexTensor& idx) { return model.forward(idx).logits; }});
}

}  // namespace tutorial
