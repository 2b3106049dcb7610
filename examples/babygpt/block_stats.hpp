#pragma once
// --log-stats: at each evaluation, what each block does to the residual stream. On one training batch
// (in eval mode, so without dropout), per block: the mean and standard deviation of the stream entering
// and leaving it and of its attention and feed-forward outputs, and the norm of the gradient of the
// block's parameters for that batch's loss. Kept as a CSV next to the metrics.

#include <cstdint>
#include <string>
#include <vector>

#include <babygpt/data/batches.hpp>
#include <babygpt/models/gpt.hpp>

namespace babygpt_cli {

struct BlockStatsRow {
    std::int64_t step = 0, block = 0;
    double input_mean = 0, input_std = 0;                // the residual stream entering the block
    double attention_mean = 0, attention_std = 0;        // sa's output
    double feed_forward_mean = 0, feed_forward_std = 0;  // ffwd's output
    double output_mean = 0, output_std = 0;              // the stream leaving it
    double grad_norm = 0;                                // sqrt(sum of squares) of the block's parameters' gradients
};

/// The rows of `model` at `step` on `batch`. Leaves every gradient zero and the model in eval mode.
std::vector<BlockStatsRow> measure_block_stats(babygpt::GPT<float>& model, const babygpt::data::Batch& batch,
                                               std::int64_t step);

/// "step,block,input_mean,...,grad_norm" and one line per row.
std::string block_stats_csv(const std::vector<BlockStatsRow>& rows);

/// Rows of a CSV written by block_stats_csv(); unreadable lines are skipped. A missing file gives no rows.
std::vector<BlockStatsRow> read_block_stats_csv(const std::string& path);

}  // namespace babygpt_cli
