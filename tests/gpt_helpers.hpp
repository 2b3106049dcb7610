// The small GPT configuration the model tests share.

#pragma once

#include "babygpt/models/gpt.hpp"

namespace babygpt_test {

/// vocab 7, block 5, n_embed 8, 2 heads, 2 layers: every part of the model, in a gradcheck's budget.
inline babygpt::GPTConfig tiny_config(double dropout = 0.0, babygpt::NormPlacement norm = babygpt::NormPlacement::pre) {
    babygpt::GPTConfig c;
    c.vocab_size = 7;
    c.block_size = 5;
    c.n_embed = 8;
    c.n_head = 2;
    c.n_layer = 2;
    c.dropout = dropout;
    c.norm = norm;
    return c;
}

}  // namespace babygpt_test
