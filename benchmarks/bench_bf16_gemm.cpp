// bf16 against fp32 matrix products at v11's shapes, one thread: is there a bf16 GEMM on this machine
// fast enough to train in bf16? Compares OpenBLAS's sgemm (what babygpt's products run on) with
// oneDNN's fp32 and bf16 matmuls (bf16 inputs, fp32 accumulation and output, as mixed-precision
// training would use them). Debian's OpenBLAS 0.3.21 is built without its bf16 routine (sbgemm), so
// oneDNN (libdnnl-dev) is the bf16 GEMM Debian ships. Built when oneDNN is found.
//
//   build/benchmarks/bench_bf16_gemm [--seconds S]
//
// Each line: the shape (M x N x K of C = A B), and GFLOP/s as the median of 5 timings of at least S
// seconds (0.3) each.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <cblas.h>
#include <dnnl.hpp>
#include <omp.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Shape {
    const char* what;
    dnnl::memory::dim M, N, K;
};

/// GFLOP/s of `run` (one M x N x K product): the median of 5 timings of at least `seconds` each.
double gflops(const std::function<void()>& run, const Shape& s, double seconds) {
    run();  // warm up: first-touch, oneDNN's kernel generation
    std::vector<double> rates;
    for (int t = 0; t < 5; ++t) {
        int reps = 0;
        const auto start = Clock::now();
        double elapsed = 0;
        do {
            run();
            ++reps;
            elapsed = std::chrono::duration<double>(Clock::now() - start).count();
        } while (elapsed < seconds);
        rates.push_back(2.0 * static_cast<double>(s.M * s.N * s.K) * reps / elapsed / 1e9);
    }
    std::sort(rates.begin(), rates.end());
    return rates[2];
}

/// A oneDNN matmul C (M x N, f32) = A (M x K) B (K x N) with A and B of type `type`, row-major.
struct OneDnnMatmul {
    dnnl::engine engine{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream{engine};
    dnnl::memory a, b, c;
    dnnl::matmul matmul;
    std::string implementation;

    OneDnnMatmul(const Shape& s, dnnl::memory::data_type type) {
        using tag = dnnl::memory::format_tag;
        const dnnl::memory::desc a_desc({s.M, s.K}, type, tag::ab), b_desc({s.K, s.N}, type, tag::ab),
            c_desc({s.M, s.N}, dnnl::memory::data_type::f32, tag::ab);
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_desc, b_desc, c_desc), engine);
        implementation = pd.impl_info_str();
        a = dnnl::memory(a_desc, engine);
        b = dnnl::memory(b_desc, engine);
        c = dnnl::memory(c_desc, engine);
        fill(a, s.M * s.K);
        fill(b, s.K * s.N);
        matmul = dnnl::matmul(pd);
    }
    void run() {
        matmul.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
        stream.wait();
    }
    /// Any bytes will do for timing except NaNs and denormals: small positive numbers in either type.
    static void fill(dnnl::memory& m, dnnl::memory::dim n) {
        if (m.get_desc().data_type() == dnnl::memory::data_type::f32) {
            std::fill_n(static_cast<float*>(m.get_data_handle()), n, 0.5f);
        } else {
            std::fill_n(static_cast<std::uint16_t*>(m.get_data_handle()), n, std::uint16_t(0x3F00));  // bf16 0.5
        }
    }
};

}  // namespace

int main(int argc, char** argv) {
    double seconds = 0.3;
    for (int i = 1; i + 1 < argc; i += 2)
        if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    openblas_set_num_threads(1);
    omp_set_num_threads(1);  // oneDNN's threads (Debian builds it with OpenMP)

    // v11: B * T = 16,384 rows, C = 384, 4C = 1,536, the 3 projections of attention together 1,152 wide.
    const std::vector<Shape> shapes = {
        {"plain 1024^3", 1024, 1024, 1024},
        {"qkv: x W^T", 16384, 1152, 384},
        {"attention out: y W^T", 16384, 384, 384},
        {"feed-forward up", 16384, 1536, 384},
        {"feed-forward down", 16384, 384, 1536},
        {"dW of feed-forward up: dY^T x", 1536, 384, 16384},
    };
    std::printf("oneDNN %d.%d.%d; one thread; GFLOP/s (median of 5)\n\n", dnnl_version()->major,
                dnnl_version()->minor, dnnl_version()->patch);
    std::printf("| product | M x N x K | OpenBLAS sgemm | oneDNN f32 | oneDNN bf16 | bf16 / sgemm |\n");
    std::printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
    std::string bf16_implementation;
    for (const Shape& s : shapes) {
        std::vector<float> a(static_cast<std::size_t>(s.M * s.K), 0.5f), b(static_cast<std::size_t>(s.K * s.N), 0.5f),
            c(static_cast<std::size_t>(s.M * s.N));
        const double blas = gflops(
            [&] {
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(s.M), static_cast<int>(s.N),
                            static_cast<int>(s.K), 1.0f, a.data(), static_cast<int>(s.K), b.data(),
                            static_cast<int>(s.N), 0.0f, c.data(), static_cast<int>(s.N));
            },
            s, seconds);
        OneDnnMatmul f32(s, dnnl::memory::data_type::f32), bf16(s, dnnl::memory::data_type::bf16);
        const double dnnl_f32 = gflops([&] { f32.run(); }, s, seconds);
        const double dnnl_bf16 = gflops([&] { bf16.run(); }, s, seconds);
        bf16_implementation = bf16.implementation;
        std::printf("| %s | %lld x %lld x %lld | %.1f | %.1f | %.1f | %.2fx |\n", s.what, static_cast<long long>(s.M),
                    static_cast<long long>(s.N), static_cast<long long>(s.K), blas, dnnl_f32, dnnl_bf16,
                    dnnl_bf16 / blas);
        std::fflush(stdout);
    }
    std::printf("\noneDNN's bf16 matmul implementation: %s\n", bf16_implementation.c_str());
    return 0;
}
