// Run by mpirun as N processes: the gradients that data-parallel training sums across ranks
// (examples/babygpt/gradient_sum.hpp) equal those of one process computing the whole batch, up to
// float rounding, for every parameter of a small GPT, with one all-reduce after backward and with
// small buckets summed during it; and every rank holds bit for bit the same sums (or the ranks' models
// would drift apart). With 2 ranks the two ways give identical numbers (a sum of two terms has one
// order); with more, MPI may add the ranks' terms in another order for small messages than for large.
// Exits 1 on any rank's failure; rank 0 prints what it checked.
//
//   mpirun -np 3 build/tests/mpi/gradient_sum_test

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

#include <babygpt/babygpt.hpp>

#include "../gpt_helpers.hpp"
#include "gradient_sum.hpp"
#include "world.hpp"

namespace {

using babygpt::IndexTensor;
using babygpt::Tensorf;

/// Rows [first, first + n) of a (B, T) token tensor.
IndexTensor rows_of(const IndexTensor& batch, std::int64_t first, std::int64_t n) {
    const std::int64_t T = batch.size(1);
    const std::int64_t* begin = batch.data() + first * T;
    return IndexTensor::from_data({n, T}, std::vector<std::int64_t>(begin, begin + n * T));
}

IndexTensor random_tokens(std::int64_t B, std::int64_t T, std::int64_t vocab, babygpt::Generator& gen) {
    std::vector<std::int64_t> tokens(static_cast<std::size_t>(B * T));
    for (auto& token : tokens) token = static_cast<std::int64_t>(gen.next_u64() % static_cast<std::uint64_t>(vocab));
    return IndexTensor::from_data({B, T}, tokens);
}

/// A hash of the values' bits: equal on two ranks only if their gradients are (almost surely).
std::uint64_t bits_hash(const std::vector<std::vector<float>>& values) {
    std::uint64_t hash = 1469598103934665603ULL;
    for (const auto& tensor : values)
        for (const float v : tensor) {
            std::uint32_t bits;
            std::memcpy(&bits, &v, sizeof bits);
            hash = (hash ^ bits) * 1099511628211ULL;
        }
    return hash;
}

std::vector<std::vector<float>> gradients_of(const std::vector<Tensorf>& parameters) {
    std::vector<std::vector<float>> out;
    for (const Tensorf& p : parameters) out.emplace_back(p.grad().data(), p.grad().data() + p.numel());
    return out;
}

/// The largest difference between `got` and `expected`, relative to the largest expected value of
/// the same tensor.
double worst_relative_difference(const std::vector<std::vector<float>>& got,
                                 const std::vector<std::vector<float>>& expected) {
    double worst = 0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        double scale = 1e-30, difference = 0;
        for (std::size_t k = 0; k < expected[i].size(); ++k) {
            scale = std::max(scale, std::fabs(static_cast<double>(expected[i][k])));
            difference = std::max(difference, std::fabs(static_cast<double>(got[i][k]) - expected[i][k]));
        }
        worst = std::max(worst, difference / scale);
    }
    return worst;
}

}  // namespace

int main(int argc, char** argv) {
    babygpt_cli::World world(argc, argv);
    const babygpt::GPTConfig config = babygpt_test::tiny_config();
    babygpt::Generator gen(7);
    const babygpt::GPT<float> model(config, gen);  // the same on every rank: the same seed
    const std::vector<Tensorf> parameters = model.parameters();
    const std::int64_t B = 14;  // not a multiple of 3 or 4: the ranks' shares differ
    const IndexTensor x = random_tokens(B, config.block_size, config.vocab_size, gen);
    const IndexTensor y = random_tokens(B, config.block_size, config.vocab_size, gen);

    // What one process computes from the whole batch.
    model.loss(x, y).backward();
    const auto expected = gradients_of(parameters);

    int failed = 0;
    std::vector<std::vector<float>> previous;
    for (const std::size_t bucket_bytes : {std::size_t(0), std::size_t(2048)}) {
        for (const Tensorf& p : parameters) p.zero_grad();
        babygpt_cli::GradientSum sum(world, parameters, bucket_bytes);
        const babygpt_cli::RowShare mine = world.share_of(B);
        const Tensorf loss = model.loss(rows_of(x, mine.first, mine.count), rows_of(y, mine.first, mine.count));
        sum.backward_and_sum(loss, static_cast<float>(mine.count) / static_cast<float>(B));
        const auto got = gradients_of(parameters);
        const double difference = worst_relative_difference(got, expected);
        if (!(difference <= 1e-5)) failed = 1;
        // The same bits on every rank: the hash's largest and smallest values agree (as two halves, since
        // the world reduces ints).
        const std::uint64_t hash = bits_hash(got);
        const int high = static_cast<int>(hash >> 33), low = static_cast<int>((hash >> 2) & 0x7FFFFFFF);
        const bool same_on_every_rank = world.max(high) == -world.max(-high) && world.max(low) == -world.max(-low);
        if (!same_on_every_rank) failed = 1;
        const bool same_as_one_sum = previous.empty() || got == previous;
        if (world.size() == 2 && !same_as_one_sum) failed = 1;
        if (world.is_root())
            std::printf("%d ranks, %zu all-reduce%s: largest difference from one process's gradients %.3g (relative); "
                        "%s on every rank%s\n", world.size(), sum.bucket_count(), sum.bucket_count() == 1 ? "" : "s",
                        difference, same_on_every_rank ? "the same" : "NOT the same",
                        previous.empty() ? "" : same_as_one_sum ? "; identical to one all-reduce" : "; not identical to one all-reduce");
        previous = got;
    }
    failed = world.max(failed);
    if (world.is_root()) std::printf(failed ? "FAIL\n" : "PASS\n");
    world.finish(true);
    return failed;
}
