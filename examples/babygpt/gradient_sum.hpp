#pragma once
// Summing the gradients of data-parallel training across ranks.
//
// Rank r computed the mean loss over its own n_r of the batch's B rows, so its gradient is
// g_r = (1/n_r) sum over its rows. The gradient of the whole batch's mean loss is
//     g = (1/B) sum over all rows = sum_r (n_r / B) g_r,
// so each rank scales its gradient by n_r / B and the ranks add them up: one all-reduce (sum) over a
// single flat buffer that holds every parameter's gradient, after which every rank has g.
//
// With overlap on, the buffer is cut into buckets of parameters in the order backward completes them
// (the output layer first, the embeddings last), and each bucket's sum starts, non-blocking, as soon
// as its last gradient is complete, while backward carries on with the layers below.

#include <cstddef>
#include <unordered_map>
#include <vector>

#include <babygpt/tensor.hpp>

#include "world.hpp"

namespace babygpt_cli {

class GradientSum {
public:
    /// `parameters` in the model's order; buckets hold about `bucket_bytes` each (0: one bucket, summed
    /// after backward has finished).
    GradientSum(World& world, std::vector<babygpt::Tensorf> parameters, std::size_t bucket_bytes);

    /// Runs loss.backward() and sums the gradients across ranks, each rank's scaled by `share`
    /// (its rows / the batch's rows): afterwards every parameter's gradient is the batch's.
    void backward_and_sum(const babygpt::Tensorf& loss, float share);

    /// Seconds spent in communication during the last backward_and_sum(): starting and moving the sums
    /// along during backward, and waiting for them after it (the part overlap cannot hide).
    double last_communication_seconds() const { return communication_seconds_; }
    std::size_t bucket_count() const { return buckets_.size(); }

private:
    struct Bucket {
        std::size_t first = 0, count = 0;  // its parameters: order_[first, first + count)
        std::size_t offset = 0, size = 0;  // its elements in the flat buffer
        std::size_t waiting = 0;           // parameters whose gradient is not complete yet
    };
    void gradient_ready(const babygpt::Tensorf& parameter);
    void start_ready_buckets();
    void copy_in(const Bucket& bucket);
    void copy_out();

    World& world_;
    std::vector<babygpt::Tensorf> order_;  // the parameters, last layer first
    std::unordered_map<const void*, std::size_t> bucket_of_;  // a parameter's storage -> its bucket
    std::vector<Bucket> buckets_;
    std::vector<float> flat_;
    std::size_t next_bucket_ = 0;  // buckets start in order, the same on every rank
    float share_ = 1;
    double communication_seconds_ = 0;
};

}  // namespace babygpt_cli
