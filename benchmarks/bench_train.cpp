// Training and generation benchmark for BabyGPT.
//
// Reports, for a preset, a corpus and a thread count:
//   - training throughput (tokens/s over --steps steps after --warmup steps),
//   - the time split by phase (forward, backward, optimizer) and by op family,
//   - model FLOP/s against a plain GEMM (Eigen, or OpenBLAS behind it) measured in the same run (model FLOPs utilisation),
//   - generation throughput (new tokens/s for --generate tokens from a one-character prompt),
//   - with --dtype bf16, training with the linear layers' products in bf16 (bf16_products.hpp),
//   - peak resident memory while training (with --checkpointing 1, of GPT::activation_checkpointing),
//     and with --memory 1 the tensor memory held at the peak of the
//     timed steps by the op that allocated it (babygpt/memory_budget.hpp).
// The last line is machine-readable (RESULT key=value ...), for benchmarks/compare_pytorch.sh.
//
//   build/benchmarks/bench_train --data data/downloads/tinyshakespeare.txt --preset v9 --threads 1

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <babygpt/babygpt.hpp>
#include <babygpt/memory_budget.hpp>
#include <babygpt/profiler.hpp>

namespace {

using Clock = std::chrono::steady_clock;
using namespace babygpt;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

struct Options {
    std::string data;
    std::string preset = "v9";
    int threads = 1;
    std::int64_t steps = 0;   // 0: 200 for v9, 3 for v11
    std::int64_t warmup = 0;  // 0: 20 for v9, 1 for v11
    std::int64_t generate = 500;
    std::int64_t batch_size = 0, block_size = 0;  // 0: the preset's
    std::uint64_t seed = 42;
    bool per_op = false;  // --per-op 1: also list each op's forward and backward time per step
    bool memory = false;  // --memory 1: also list the tensor memory at the peak, by the op that allocated it
    bool checkpointing = false;  // --checkpointing 1: GPT::activation_checkpointing (each block recomputed)
    std::string dtype = "fp32";  // --dtype bf16: the linear layers' products in bf16 while training
};

Options parse(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string flag = argv[i];
        BABYGPT_CHECK(i + 1 < argc, "option ", flag, " needs a value");
        const char* value = argv[++i];
        if (flag == "--data") o.data = value;
        else if (flag == "--preset") o.preset = value;
        else if (flag == "--threads") o.threads = std::atoi(value);
        else if (flag == "--steps") o.steps = std::atoll(value);
        else if (flag == "--warmup") o.warmup = std::atoll(value);
        else if (flag == "--generate") o.generate = std::atoll(value);
        else if (flag == "--batch-size") o.batch_size = std::atoll(value);
        else if (flag == "--block-size") o.block_size = std::atoll(value);
        else if (flag == "--seed") o.seed = std::strtoull(value, nullptr, 10);
        else if (flag == "--per-op") o.per_op = std::atoi(value) != 0;
        else if (flag == "--memory") o.memory = std::atoi(value) != 0;
        else if (flag == "--checkpointing") o.checkpointing = std::atoi(value) != 0;
        else if (flag == "--dtype") o.dtype = value;
        else detail::throw_error("unknown option ", flag,
                                 "; options: --data --preset --threads --steps --warmup --generate --batch-size "
                                 "--block-size --seed --per-op --memory --checkpointing --dtype");
    }
    BABYGPT_CHECK(!o.data.empty(), "--data FILE is required");
    BABYGPT_CHECK(o.dtype == "fp32" || o.dtype == "bf16", "--dtype ", o.dtype, ": expected fp32 or bf16");
    BABYGPT_CHECK(o.preset == "v9" || o.preset == "v11", "unknown preset '", o.preset, "'; choose v9 or v11");
    return o;
}

/// A plain float GEMM of n x n x n through the same path as the model's products (Eigen, OpenBLAS if
/// Eigen uses it, split across the threads by kernels/gemm.hpp), best of a few, in GFLOP/s.
double plain_gemm_gflops(std::int64_t n) {
    using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    Matrix a = Matrix::Random(n, n), b = Matrix::Random(n, n), c(n, n);
    kernels::gemm_rows(c, a, b, false);
    double best = 1e30;
    for (int r = 0; r < 5; ++r) {
        const auto start = Clock::now();
        kernels::gemm_rows(c, a, b, false);
        best = std::min(best, seconds_since(start));
    }
    return 2.0 * n * n * n / best * 1e-9;
}

/// Matrix-multiply FLOPs of one training step (forward + backward = 3 x forward), counting the full
/// T x T attention products as the reference computes them.
double step_flops(const GPTConfig& c, std::int64_t B) {
    const double N = static_cast<double>(B * c.block_size), C = static_cast<double>(c.n_embed);
    const double T = static_cast<double>(c.block_size), V = static_cast<double>(c.vocab_size);
    const double per_layer = 2 * N * C * 3 * C     // q, k, v
                             + 2 * N * C * C       // proj
                             + 2 * N * C * 4 * C * 2  // the two feed-forward linears
                             + 2 * 2 * N * T * C;  // q k^T and wei v over all heads
    const double forward = c.n_layer * per_layer + 2 * N * C * V;  // + lm_head
    return 3 * forward;
}

/// Seconds to read every parameter once on one thread (the sum of all their values; best of 5 after a
/// warm-up): the least time a generated token can take in float32, since each token multiplies by
/// every weight. Once the weights outgrow the last-level cache, this is a memory-bandwidth bound.
double read_parameters_seconds(GPT<float>& model) {
    float sink = 0;
    auto read_all = [&] {
        for (const Tensorf& p : model.parameters()) sink += p.array().sum();
    };
    read_all();
    double best = 1e30;
    for (int r = 0; r < 5; ++r) {
        const auto start = Clock::now();
        read_all();
        best = std::min(best, seconds_since(start));
    }
    if (sink == 12345.678f) std::printf(" ");  // keeps the sums from being optimised away
    return best;
}

double peak_rss_mb() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;  // Linux reports kilobytes
}

#ifdef BABYGPT_OPENBLAS
extern "C" char* openblas_get_corename(void);
#endif

/// Which code does the GEMMs: OpenBLAS names the kernels it picked for this CPU (OPENBLAS_CORETYPE
/// in the environment overrides the choice, and an older core's kernels are slower).
std::string gemm_backend() {
#ifdef BABYGPT_OPENBLAS
    return std::string("OpenBLAS, ") + openblas_get_corename() + " kernels";
#else
    return "Eigen";
#endif
}

/// Op name -> the family the report groups it under.
std::string family(const std::string& op) {
    if (op == "linear" || op == "matmul" || op == "bmm" || op == "cat_rows") return "matmul";
    if (op == "causal_self_attention" || op == "softmax" || op == "causal_mask") return "attention";
    if (op == "layer_norm") return "layernorm";
    if (op == "cross_entropy" || op == "log_softmax") return "softmax/cross-entropy";
    if (op == "linear_cross_entropy") return "lm_head + cross-entropy (fused)";
    return "elementwise/other";
}

}  // namespace

int main(int argc, char** argv) try {
    const Options o = parse(argc, argv);
    set_num_threads(o.threads);
    const bool big = o.preset == "v11";
    const std::int64_t steps = o.steps > 0 ? o.steps : (big ? 3 : 200);
    const std::int64_t warmup = o.warmup > 0 ? o.warmup : (big ? 1 : 20);

    const double gemm_gflops = plain_gemm_gflops(1024);

    const std::vector<char32_t> text = data::decode_utf8(data::read_file(o.data), o.data);
    const data::Vocabulary vocabulary = data::Vocabulary::from_text(text);
    GPTConfig config;
    config.vocab_size = vocabulary.size();
    config.block_size = o.block_size > 0 ? o.block_size : (big ? 256 : 8);
    config.n_embed = big ? 384 : 32;
    config.n_head = big ? 6 : 4;
    config.n_layer = big ? 6 : 3;
    config.dropout = big ? 0.2 : 0.0;
    const std::int64_t B = o.batch_size > 0 ? o.batch_size : (big ? 64 : 32);
    const double lr = big ? 3e-4 : 1e-2;
    const data::Split split = data::split_tokens(vocabulary.encode(text), 0.9, config.block_size);

    Generator gen(o.seed);
    GPT<float> model(config, gen);
    model.activation_checkpointing = o.checkpointing;
    optim::AdamWOptions adamw;
    adamw.lr = lr;
    optim::AdamW<float> optimizer(model.parameters(), adamw);

    double forward_s = 0, backward_s = 0, optimizer_s = 0;
    Bf16Products::set_enabled(o.dtype == "bf16");  // throws, saying why, where bf16 products cannot run
    for (std::int64_t step = 0; step < warmup + steps; ++step) {
        if (step == warmup) {
            profiler::enable(true);
            memory_budget::enable(o.memory);
        }
        const bool timed = step >= warmup;
        const data::Batch batch = data::get_batch(split.train, B, config.block_size, gen);
        auto t0 = Clock::now();
        const Tensorf loss = model.loss(batch.x, batch.y);
        auto t1 = Clock::now();
        optimizer.zero_grad();
        loss.backward();
        auto t2 = Clock::now();
        optimizer.step();
        auto t3 = Clock::now();
        if (timed) {
            forward_s += std::chrono::duration<double>(t1 - t0).count();
            backward_s += std::chrono::duration<double>(t2 - t1).count();
            optimizer_s += std::chrono::duration<double>(t3 - t2).count();
        }
    }
    profiler::enable(false);
    Bf16Products::set_enabled(false);  // generation below in float32
    const memory_budget::Snapshot budget = memory_budget::at_peak();
    memory_budget::enable(false);
    const double rss_mb = peak_rss_mb();
    const double total_s = forward_s + backward_s + optimizer_s;
    const double tokens_per_sec = static_cast<double>(steps * B * config.block_size) / total_s;
    const double model_gflops = step_flops(config, B) * static_cast<double>(steps) / total_s * 1e-9;

    std::map<std::string, double> families;
    for (const auto& [op, s] : profiler::totals().forward) families[family(op)] += s;
    for (const auto& [op, s] : profiler::totals().backward)  // a checkpoint's time holds its ops' already
        if (op != "activation_checkpoint") families[family(op)] += s;
    families["optimizer"] = optimizer_s;

    double generate_tps = 0, read_weights_s = 0;
    if (o.generate > 0) {
        read_weights_s = read_parameters_seconds(model);
        model.eval();
        Generator sample_gen(o.seed);
        const auto start = Clock::now();
        model.generate(IndexTensor::from_data({1, 1}, {0}), o.generate, sample_gen);
        generate_tps = static_cast<double>(o.generate) / seconds_since(start);
    }

    std::printf("babygpt %s: preset %s, %s, %lld parameters, batch %lld x %lld, %d thread(s)\n", version,
                o.preset.c_str(), o.data.c_str(), static_cast<long long>(model.parameter_count()),
                static_cast<long long>(B), static_cast<long long>(config.block_size), o.threads);
    std::printf("matrix products: %s%s\n", gemm_backend().c_str(),
                o.dtype == "bf16" ? "; training's linear layers: bf16 operands on oneDNN" : "");
    std::printf("training: %lld steps after %lld warm-up: %.0f tokens/s\n", static_cast<long long>(steps),
                static_cast<long long>(warmup), tokens_per_sec);
    std::printf("  by phase: forward %.1f%%, backward %.1f%%, optimizer %.1f%%\n", 100 * forward_s / total_s,
                100 * backward_s / total_s, 100 * optimizer_s / total_s);
    std::printf("  by op family (forward + backward):\n");
    for (const auto& [name, s] : families) std::printf("    %-24s %6.1f%%\n", name.c_str(), 100 * s / total_s);
    if (o.per_op) {
        std::printf("  by op, microseconds per step (forward / backward):\n");
        std::map<std::string, std::pair<double, double>> ops;
        for (const auto& [op, s] : profiler::totals().forward) ops[op].first = s;
        for (const auto& [op, s] : profiler::totals().backward) ops[op].second = s;
        const double per_step = 1e6 / static_cast<double>(steps);
        for (const auto& [op, fb] : ops)
            std::printf("    %-24s %8.1f / %8.1f\n", op.c_str(), fb.first * per_step, fb.second * per_step);
        std::printf("    %-24s %8.1f\n", "optimizer", optimizer_s * per_step);
    }
    std::printf("  model %.1f GFLOP/s vs a plain GEMM %.1f GFLOP/s: utilisation %.0f%%\n", model_gflops,
                gemm_gflops, 100 * model_gflops / gemm_gflops);
    std::printf("  peak RSS %.0f MB\n", rss_mb);
    if (o.memory) {
        std::printf("  tensor memory at its peak, %.0f MB, by the op that allocated it (MB):\n", budget.total / 1e6);
        std::vector<std::pair<std::size_t, std::string>> kinds;
        for (const auto& [kind, bytes] : budget.bytes) kinds.emplace_back(bytes, kind);
        std::sort(kinds.rbegin(), kinds.rend());
        for (const auto& [bytes, kind] : kinds) std::printf("    %-32s %8.1f\n", kind.c_str(), bytes / 1e6);
    }
    if (o.generate > 0)
        std::printf("generation: %lld new tokens at %.1f tokens/s; reading the %.1f MB of weights once takes %.2f ms on "
                    "one thread, at most %.1f tokens/s\n", static_cast<long long>(o.generate), generate_tps,
                    static_cast<double>(model.parameter_count()) * sizeof(float) / 1e6, read_weights_s * 1e3,
                    1.0 / read_weights_s);
    std::printf("RESULT tokens_per_sec=%.2f forward_s=%.4f backward_s=%.4f optimizer_s=%.4f model_gflops=%.2f "
                "gemm_gflops=%.2f mfu=%.3f peak_rss_mb=%.1f generate_tokens_per_sec=%.2f\n",
                tokens_per_sec, forward_s, backward_s, optimizer_s, model_gflops, gemm_gflops,
                model_gflops / gemm_gflops, rss_mb, generate_tps);
    return 0;
} catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
}
