#include "gradient_sum.hpp"

#include <algorithm>
#include <chrono>

namespace babygpt_cli {

namespace {

using Clock = std::chrono::steady_clock;

/// Adds the time from its construction to its destruction to `total`.
struct Stopwatch {
    double& total;
    Clock::time_point start = Clock::now();
    ~Stopwatch() { total += std::chrono::duration<double>(Clock::now() - start).count(); }
};

}  // namespace

GradientSum::GradientSum(World& world, std::vector<babygpt::Tensorf> parameters, std::size_t bucket_bytes)
    : world_(world), order_(parameters.rbegin(), parameters.rend()) {
    // Backward completes the parameters roughly in reverse order of the forward pass, which is the
    // model's order reversed: the buckets follow it.
    Bucket bucket;
    std::size_t offset = 0;
    for (std::size_t i = 0; i < order_.size(); ++i) {
        if (bucket.count > 0 && bucket_bytes > 0 && bucket.size * sizeof(float) >= bucket_bytes) {
            buckets_.push_back(bucket);
            bucket = Bucket{i, 0, offset, 0, 0};
        }
        const auto n = static_cast<std::size_t>(order_[i].numel());
        ++bucket.count;
        bucket.size += n;
        offset += n;
        bucket_of_[&order_[i].impl()] = buckets_.size();
    }
    buckets_.push_back(bucket);
    flat_.resize(offset);
}

void GradientSum::backward_and_sum(const babygpt::Tensorf& loss, float share) {
    communication_seconds_ = 0;
    if (world_.size() == 1) {  // one process: its gradient is the batch's
        loss.backward();
        return;
    }
    share_ = share;
    if (buckets_.size() == 1) {  // no overlap: one all-reduce after backward
        loss.backward();
        Stopwatch communication{communication_seconds_};
        copy_in(buckets_[0]);
        world_.sum_in_place(flat_.data(), flat_.size());
        copy_out();
        return;
    }
    next_bucket_ = 0;
    for (Bucket& bucket : buckets_) bucket.waiting = bucket.count;
    loss.backward([this](const babygpt::Tensorf& parameter) { gradient_ready(parameter); });
    Stopwatch communication{communication_seconds_};
    for (Bucket& bucket : buckets_) bucket.waiting = 0;  // a parameter the loss does not read: a zero gradient
    start_ready_buckets();
    world_.wait_for_sums();
    copy_out();
}

void GradientSum::gradient_ready(const babygpt::Tensorf& parameter) {
    const auto found = bucket_of_.find(&parameter.impl());
    if (found == bucket_of_.end()) return;  // not one of the model's parameters
    Stopwatch communication{communication_seconds_};
    --buckets_[found->second].waiting;
    start_ready_buckets();
    world_.progress();
}

void GradientSum::start_ready_buckets() {
    // In bucket order on every rank, whatever order the gradients complete in: the sums must match up.
    while (next_bucket_ < buckets_.size() && buckets_[next_bucket_].waiting == 0) {
        const Bucket& bucket = buckets_[next_bucket_++];
        copy_in(bucket);
        world_.start_sum(flat_.data() + bucket.offset, bucket.size);
    }
}

void GradientSum::copy_in(const Bucket& bucket) {
    float* out = flat_.data() + bucket.offset;
    for (std::size_t i = bucket.first; i < bucket.first + bucket.count; ++i) {
        const babygpt::Tensorf& p = order_[i];
        const auto n = static_cast<std::size_t>(p.numel());
        if (p.has_grad()) {
            const float* g = p.grad().data();
            for (std::size_t k = 0; k < n; ++k) out[k] = g[k] * share_;
        } else {
            std::fill_n(out, n, 0.0f);
        }
        out += n;
    }
}

void GradientSum::copy_out() {
    const float* in = flat_.data();
    for (const babygpt::Tensorf& p : order_) {
        const auto n = static_cast<std::size_t>(p.numel());
        std::copy_n(in, n, p.grad_data());
        in += n;
    }
}

}  // namespace babygpt_cli
