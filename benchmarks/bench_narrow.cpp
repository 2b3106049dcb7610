// The output layer's three products on the narrow kernels (kernels/narrow_gemm.hpp), at the shapes
// linear_cross_entropy gives them for a narrow C, against a plain 1024^3 float GEMM in the same process,
// timed in alternation. With v9 on the Chinese corpus (V = 6,100, C = 32, 256 rows a step) these products
// are most of a training step, so their rate against the GEMM's says how far the step is from the rate
// the machine has at that moment: a slower machine slows both, this shows whether alike.
//
//   build/benchmarks/bench_narrow [--vocab 6100] [--width 32] [--rows 256] [--repeats 9]
//
// Per sub-block of the rows (as many as linear_cross_entropy takes: 32 at V = 6,100):
//   forward   logits (R, V) = X (R, C) W^T + b   LogitsProduct (narrow_times_wide, W^T in panels)
//   dx        (R, C) = D (R, V) W (V, C)         rows_times_narrow
//   dW        (V, C) += D^T X                    columns_times_narrow
// One thread, as the rate against the GEMM is what this measures.

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include <babygpt/kernels/products.hpp>
#include <babygpt/ops/linear_cross_entropy.hpp>
#include <babygpt/random.hpp>
#include <babygpt/tensor.hpp>
#include <babygpt/threads.hpp>

#include "alternating_medians.hpp"

int main(int argc, char** argv) {
    std::int64_t V = 6100, C = 32, N = 256;
    int repeats = 9;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--vocab")) V = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--width")) C = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--rows")) N = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: bench_narrow [--vocab V] [--width C] [--rows N] [--repeats R]\n");
            return 2;
        }
    }
    if (V < 1 || N < 1 || repeats < 1 || !babygpt::kernels::narrow_product_fits<float>(C)) {
        std::fprintf(stderr, "error: --vocab, --rows and --repeats must be positive and --width 1, 2 or 4 SIMD "
                             "packets of floats (%d, %d or %d here)\n",
                     babygpt::kernels::kPacketSize<float>, 2 * babygpt::kernels::kPacketSize<float>,
                     4 * babygpt::kernels::kPacketSize<float>);
        return 2;
    }
    babygpt::set_num_threads(1);
    namespace k = babygpt::kernels;
    const std::int64_t R = std::min(N, babygpt::detail::cross_entropy_sub_block_rows(V, sizeof(float)));
    const std::int64_t sub_blocks = (N + R - 1) / R;

    babygpt::Generator gen(0);
    const babygpt::Tensorf x = babygpt::Tensorf::randn({N, C}, gen);       // (N, C)
    const babygpt::Tensorf weight = babygpt::Tensorf::randn({V, C}, gen);  // (V, C)
    const babygpt::Tensorf bias = babygpt::Tensorf::randn({V}, gen);       // (V)
    const k::LogitsProduct<float> logits_of(weight.matrix(), bias.data());  // W^T in panels, as the op lays it out
    std::vector<float> D(static_cast<std::size_t>(R * V));  // a sub-block's logits, then their gradient
    std::vector<float> dx(static_cast<std::size_t>(N * C)), dW(static_cast<std::size_t>(V * C));
    auto rows_of = [&](std::int64_t b) { return std::min(R, N - b * R); };

    const std::int64_t n = 1024;
    const babygpt::Tensorf a = babygpt::Tensorf::randn({n, n}, gen), b = babygpt::Tensorf::randn({n, n}, gen);
    babygpt::Tensorf::Matrix c(n, n);

    const std::vector<double> medians = alternating_medians(
        repeats,
        {[&] { c.noalias() = a.matrix() * b.matrix(); },
         [&] {
             for (std::int64_t s = 0; s < sub_blocks; ++s)
                 logits_of.compute(k::MatrixMap<float>(x.data() + s * R * C, rows_of(s), C),
                                   k::MatrixMap<float>(D.data(), rows_of(s), V));
         },
         [&] {
             for (std::int64_t s = 0; s < sub_blocks; ++s)
                 k::rows_times_narrow(D.data(), V, weight.data(), rows_of(s), V, C, dx.data() + s * R * C, false);
         },
         [&] {
             for (std::int64_t s = 0; s < sub_blocks; ++s)
                 k::columns_times_narrow(D.data(), V, x.data() + s * R * C, rows_of(s), V, C, dW.data(), s > 0);
         }});
    const double gemm_rate = 2.0 * static_cast<double>(n * n * n) / medians[0] * 1e-9;
    const double narrow_flops = 2.0 * static_cast<double>(N * V * C);
    std::printf("one thread, medians of %d alternating runs; %lld rows, V = %lld, C = %lld, sub-blocks of %lld rows\n",
                repeats, static_cast<long long>(N), static_cast<long long>(V), static_cast<long long>(C),
                static_cast<long long>(R));
    std::printf("plain GEMM 1024^3            %7.1f GFLOP/s\n", gemm_rate);
    const char* names[] = {"forward  x W^T + b", "dx       D W", "dW       D^T x"};
    for (int i = 0; i < 3; ++i) {
        const double rate = narrow_flops / medians[static_cast<std::size_t>(i + 1)] * 1e-9;
        std::printf("%-28s %7.1f GFLOP/s  %5.1f us  %3.0f%% of the GEMM\n", names[i], rate,
                    medians[static_cast<std::size_t>(i + 1)] * 1e6, 100.0 * rate / gemm_rate);
    }
    return 0;
}
