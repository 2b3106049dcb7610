#pragma once
// Train/validation split and random batches, as the reference's get_batch:
// the first 90% of the tokens train, the rest validate; a batch is batch_size random windows
// x = data[i : i + T], y = data[i + 1 : i + T + 1] with i uniform in [0, len - T).

#include <cmath>
#include <string>
#include <vector>

#include "babygpt/error.hpp"
#include "babygpt/random.hpp"
#include "babygpt/tensor.hpp"

namespace babygpt::data {

struct Batch {
    IndexTensor x;  // (B, T) inputs
    IndexTensor y;  // (B, T) targets: x shifted left by one
};

struct Split {
    std::vector<std::int64_t> train;
    std::vector<std::int64_t> val;
};

/// Splits the tokens: the first floor(train_ratio * n) train, the rest validate.
/// Both parts must be longer than block_size, or there is no window to sample.
inline Split split_tokens(const std::vector<std::int64_t>& tokens, double train_ratio, std::int64_t block_size) {
    BABYGPT_CHECK(train_ratio > 0.0 && train_ratio < 1.0, "train ratio must be between 0 and 1 (exclusive), got ",
                  train_ratio);
    const auto n = static_cast<std::int64_t>(tokens.size());
    const auto n_train = static_cast<std::int64_t>(train_ratio * static_cast<double>(n));
    Split split;
    split.train.assign(tokens.begin(), tokens.begin() + n_train);
    split.val.assign(tokens.begin() + n_train, tokens.end());
    BABYGPT_CHECK(n_train > block_size && n - n_train > block_size, "the text is too short for block size ", block_size,
                  ": the training part has ", n_train, " characters and the validation part ", n - n_train,
                  ", and each needs more than ", block_size, "; use a longer text or a smaller block size");
    return split;
}

/// batch_size random windows of length block_size from `tokens`.
inline Batch get_batch(const std::vector<std::int64_t>& tokens, std::int64_t batch_size, std::int64_t block_size,
                       Generator& gen) {
    const auto n = static_cast<std::int64_t>(tokens.size());
    BABYGPT_CHECK(n > block_size, "get_batch: ", n, " tokens are too few for block size ", block_size);
    Batch batch{IndexTensor::empty({batch_size, block_size}), IndexTensor::empty({batch_size, block_size})};
    for (std::int64_t b = 0; b < batch_size; ++b) {
        const std::int64_t start = gen.randint(n - block_size);
        std::copy_n(tokens.begin() + start, block_size, batch.x.data() + b * block_size);
        std::copy_n(tokens.begin() + start + 1, block_size, batch.y.data() + b * block_size);
    }
    return batch;
}

}  // namespace babygpt::data
