#pragma once
// A float32 matrix product computed from bf16 operands: C (+)= alpha A B with A and B rounded to bf16
// (round to nearest, ties to even) and every sum kept in float32. The multiply-adds run on oneDNN's
// matmul, which on a CPU with AVX512-BF16 is about twice as fast as a float32 GEMM at the model's shapes
// (benchmarks/bench_bf16_gemm.cpp). bf16_products.hpp says when the model uses it.
//
// Only with BABYGPT_ONEDNN defined (and libdnnl linked); otherwise bf16_gemm_unavailable_reason() says
// so and bf16_gemm() is never reached.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "babygpt/error.hpp"
#include "babygpt/parallel.hpp"

#ifdef BABYGPT_ONEDNN
#include <array>
#include <map>
#include <tuple>

#include <dnnl.hpp>
#endif

namespace babygpt::kernels {

/// float32 -> bf16, rounded to nearest with ties to even: the top 16 bits of the float once the lower
/// 16 are rounded away. A NaN stays a NaN (its rounding could otherwise carry into infinity). Written
/// without branches, so that loops over it become SIMD code.
inline std::uint16_t to_bf16(float x) {
    std::uint32_t bits;
    std::memcpy(&bits, &x, sizeof bits);
    const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    const std::uint32_t quiet_nan = (bits >> 16) | 0x0040u;
    return static_cast<std::uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? quiet_nan : rounded);
}

/// bf16 -> float32, exactly: the 16 bits become the top half of the float.
inline float from_bf16(std::uint16_t h) {
    const std::uint32_t bits = static_cast<std::uint32_t>(h) << 16;
    float x;
    std::memcpy(&x, &bits, sizeof x);
    return x;
}

/// A dense float32 matrix operand (rows x cols): `data` row-major, or, when `transposed`, the
/// transpose of a row-major (cols x rows) matrix at `data`, as a weight W (out, in) is W^T (in, out).
struct DenseOperand {
    const float* data;
    std::int64_t rows, cols;
    bool transposed = false;
};

/// dst[i] = src[i] rounded to bf16 for n elements, split across the threads.
inline void convert_to_bf16(const float* src, std::int64_t n, std::uint16_t* dst) {
    BABYGPT_OMP(parallel for schedule(static) if (n > 65536))
    for (std::int64_t i = 0; i < n; ++i) dst[i] = to_bf16(src[i]);
}

/// dst (rows x cols, row-major, bf16) = the transpose of src (cols x rows, row-major), rounded, in
/// 16 x 16 tiles so that reads and writes both stay in cache.
inline void convert_transposed_to_bf16(const float* src, std::int64_t rows, std::int64_t cols, std::uint16_t* dst) {
    constexpr std::int64_t tile = 16;
    BABYGPT_OMP(parallel for schedule(static) if (rows * cols > 65536))
    for (std::int64_t r0 = 0; r0 < rows; r0 += tile)
        for (std::int64_t c0 = 0; c0 < cols; c0 += tile)
            for (std::int64_t c = c0; c < std::min(cols, c0 + tile); ++c)
                for (std::int64_t r = r0; r < std::min(rows, r0 + tile); ++r)
                    dst[r * cols + c] = to_bf16(src[c * rows + r]);
}

/// Empty when bf16_gemm can run here; otherwise what is missing, and how to get it. Found out once.
inline const std::string& bf16_gemm_unavailable_reason() {
    static const std::string reason = [] {
#ifdef BABYGPT_ONEDNN
        const auto isa = static_cast<unsigned>(dnnl::get_effective_cpu_isa());
        const auto bf16_isa = static_cast<unsigned>(dnnl::cpu_isa::avx512_core_bf16);
        if ((isa & bf16_isa) != bf16_isa)
            return std::string("this CPU has no bf16 multiply-add instructions (AVX512-BF16); train in float32 "
                               "(--dtype fp32)");
        return std::string();
#else
        return std::string("babygpt was built without oneDNN; install libdnnl-dev and build again (CMake then "
                           "defines BABYGPT_ONEDNN), or train in float32 (--dtype fp32)");
#endif
    }();
    return reason;
}

#ifdef BABYGPT_ONEDNN

namespace detail {

/// oneDNN's matmul C (M x N, f32, row-major, leading dimension ldc) (+)= alpha A (M x K) B (K x N),
/// A and B bf16, B row-major and A row-major or the transpose of a row-major matrix. A primitive is built
/// once per shape and kept (per thread: oneDNN's streams are not shared between threads).
class OneDnnBf16Matmul {
public:
    static void run(float* C, std::int64_t ldc, const std::uint16_t* A, bool transpose_a, const std::uint16_t* B,
                    std::int64_t M, std::int64_t N, std::int64_t K, bool accumulate, float alpha) {
        thread_local OneDnnBf16Matmul self;
        self.execute(C, ldc, A, transpose_a, B, M, N, K, accumulate, alpha);
    }

private:
    using Key = std::tuple<std::int64_t, std::int64_t, std::int64_t, std::int64_t, bool, bool, float>;
    using dt = dnnl::memory::data_type;

    dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
    dnnl::stream stream_{engine_};
    std::map<Key, dnnl::matmul> matmuls_;

    /// The operands' layouts, in elements: a transposed A steps 1 down a row.
    static std::array<dnnl::memory::desc, 3> layouts(std::int64_t M, std::int64_t N, std::int64_t K, std::int64_t ldc,
                                                     bool transpose_a) {
        return {dnnl::memory::desc({M, K}, dt::bf16, transpose_a ? dnnl::memory::dims{1, M} : dnnl::memory::dims{K, 1}),
                dnnl::memory::desc({K, N}, dt::bf16, {N, 1}), dnnl::memory::desc({M, N}, dt::f32, {ldc, 1})};
    }

    void execute(float* C, std::int64_t ldc, const std::uint16_t* A, bool transpose_a, const std::uint16_t* B,
                 std::int64_t M, std::int64_t N, std::int64_t K, bool accumulate, float alpha) {
        const auto [a_layout, b_layout, c_layout] = layouts(M, N, K, ldc, transpose_a);
        const Key key{M, N, K, ldc, transpose_a, accumulate, alpha};
        auto found = matmuls_.find(key);
        if (found == matmuls_.end()) {
            dnnl::primitive_attr attr;
            if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
            if (accumulate) {  // C = alpha A B + C
                dnnl::post_ops sum;
                sum.append_sum(1.0f);
                attr.set_post_ops(sum);
            }
            const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_layout, b_layout, c_layout), attr, engine_);
            found = matmuls_.emplace(key, dnnl::matmul(pd)).first;
        }
        dnnl::memory a(a_layout, engine_, const_cast<std::uint16_t*>(A));
        dnnl::memory b(b_layout, engine_, const_cast<std::uint16_t*>(B));
        dnnl::memory c(c_layout, engine_, C);
        found->second.execute(stream_, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, b}, {DNNL_ARG_DST, c}});
        stream_.wait();
    }
};

}  // namespace detail

/// C (M x N, row-major, leading dimension ldc) (+)= alpha A B with A (M x K) and B (K x N) rounded to
/// bf16 and float32 sums. Both operands are rounded into scratch buffers first (kept per thread, grown
/// as needed), A in its own layout and B row-major; oneDNN then runs the product on the OpenMP threads.
inline void bf16_gemm(float* C, std::int64_t ldc, const DenseOperand& A, const DenseOperand& B, bool accumulate,
                      float alpha = 1) {
    BABYGPT_CHECK(A.cols == B.rows, "bf16_gemm: A is ", A.rows, " x ", A.cols, " and B ", B.rows, " x ", B.cols,
                  ": A's columns must equal B's rows");
    if (A.rows == 0 || B.cols == 0) return;
    if (A.cols == 0) {  // an empty sum
        if (!accumulate)
            for (std::int64_t r = 0; r < A.rows; ++r) std::fill_n(C + r * ldc, B.cols, 0.0f);
        return;
    }
    thread_local std::vector<std::uint16_t> a_bf16, b_bf16;
    a_bf16.resize(static_cast<std::size_t>(A.rows * A.cols));
    b_bf16.resize(static_cast<std::size_t>(B.rows * B.cols));
    convert_to_bf16(A.data, A.rows * A.cols, a_bf16.data());
    // oneDNN's kernels are fastest with a row-major B (measured: 200 against 160-185 GFLOP/s at v11's
    // forward shapes); a transposed B is a weight W^T, small, so it is transposed while it is rounded.
    if (B.transposed) convert_transposed_to_bf16(B.data, B.rows, B.cols, b_bf16.data());
    else convert_to_bf16(B.data, B.rows * B.cols, b_bf16.data());
    detail::OneDnnBf16Matmul::run(C, ldc, a_bf16.data(), A.transposed, b_bf16.data(), A.rows, B.cols, A.cols,
                                  accumulate, alpha);
}

#else

inline void bf16_gemm(float*, std::int64_t, const DenseOperand&, const DenseOperand&, bool, float = 1) {
    BABYGPT_CHECK(false, "bf16_gemm: ", bf16_gemm_unavailable_reason());
}

#endif  // BABYGPT_ONEDNN

}  // namespace babygpt::kernels
