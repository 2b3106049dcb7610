// GEMM throughput: a (M, K) @ (K, N) float product through babygpt::matmul against the same product
// written directly in Eigen, in the same process. matmul folds every leading dimension of its left
// operand into the rows of ONE Eigen GEMM, so the two should be within a few percent.
//
//   build/benchmarks/bench_gemm [--size 1024] [--repeats 10] [--threads 1]

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <babygpt/babygpt.hpp>
#include <babygpt/threads.hpp>

#include "alternating_medians.hpp"

int main(int argc, char** argv) {
    std::int64_t n = 1024;
    int repeats = 10, threads = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!std::strcmp(argv[i], "--size")) n = std::atoll(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--repeats")) repeats = std::atoi(argv[i + 1]);
        else if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
        else {
            std::fprintf(stderr, "usage: bench_gemm [--size N] [--repeats R] [--threads T]\n");
            return 2;
        }
    }
    babygpt::set_num_threads(threads);
    babygpt::Generator gen(0);
    const babygpt::Tensorf a = babygpt::Tensorf::randn({n, n}, gen);
    const babygpt::Tensorf b = babygpt::Tensorf::randn({n, n}, gen);
    // The same product as a (B, T, C) @ (C, D) with B*T = n rows: still one GEMM.
    const babygpt::Tensorf a3 = babygpt::reshape(a, {n / 4, 4, n});
    babygpt::Tensorf::Matrix c(n, n);
    const double flops = 2.0 * static_cast<double>(n) * n * n;

    const std::vector<double> medians = alternating_medians(
        repeats, {[&] { c.noalias() = a.matrix() * b.matrix(); },
                  [&] { babygpt::Tensorf y = babygpt::matmul(a, b); },
                  [&] { babygpt::Tensorf y = babygpt::matmul(a3, b); }});
    const double eigen_s = medians[0], lib_s = medians[1], lib3_s = medians[2];
    std::printf("float GEMM %lldx%lldx%lld, %d thread(s), median of %d\n", static_cast<long long>(n),
                static_cast<long long>(n), static_cast<long long>(n), threads, repeats);
    std::printf("plain Eigen             %8.1f GFLOP/s\n", flops / eigen_s * 1e-9);
    std::printf("babygpt::matmul 2-d     %8.1f GFLOP/s  (%.1f%% of Eigen)\n", flops / lib_s * 1e-9, 100 * eigen_s / lib_s);
    std::printf("babygpt::matmul (B,T,C) %8.1f GFLOP/s  (%.1f%% of Eigen)\n", flops / lib3_s * 1e-9, 100 * eigen_s / lib3_s);
    return 0;
}
