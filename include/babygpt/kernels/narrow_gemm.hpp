#pragma once
// Matrix products with one narrow side: the language-model head, where one dimension is the embedding
// width C (32 in the v9 model) and another the vocabulary V (6,100 for the Chinese corpus):
//   narrow_times_wide:     out (M, V) = X (M, C) W^T + bias           logits = x W^T + b, W (V, C)
//   rows_times_narrow:     out (M, C) = A (M, K) B (K, C)             dx = D W
//   columns_times_narrow:  out (K, C) = A (M, K)^T X (M, C)           dW = D^T x
//   narrow_times_wide_logsumexp: lse (M) = logsumexp of each row of X W^T + bias, the product never stored
// A general GEMM first copies ("packs") both operands into its own layout; with a narrow side, packing
// the wide operand is a large part of the work. These kernels skip it: each keeps a tile of R rows x C
// columns of the result in SIMD registers (Eigen's packets) while its loop runs along the long dimension,
// reading the operands where they lie (narrow_tile). The one exception is W in x W^T, whose columns the
// tiles need as packets: it is transposed once per product into panels (wide_panels), one for each
// column tile. docs/performance.md has their measured gain.
//
// Every element of the result is one dot product, summed in index order by one thread, so the result
// does not depend on the thread count. The kernels serve C of 1, 2 or 4 packets (narrow_product_fits);
// kernels/products.hpp chooses between them and a general GEMM; the ops call that.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include <Eigen/Core>

#include "babygpt/kernels/dispatch.hpp"
#include "babygpt/parallel.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace babygpt::kernels {

template <typename T>
using Packet = typename Eigen::internal::packet_traits<T>::type;
template <typename T>
inline constexpr int kPacketSize = Eigen::internal::packet_traits<T>::size;

/// Whether the narrow kernels serve C columns: exactly 1, 2 or 4 SIMD packets.
template <typename T>
constexpr bool narrow_product_fits(std::int64_t C) {
    const std::int64_t P = kPacketSize<T>;
    return P > 1 && C > 0 && C % P == 0 && (C / P == 1 || C / P == 2 || C / P == 4);
}

/// Rows per register tile: 16 accumulators in all with 32 SIMD registers (AVX-512, NEON on AArch64);
/// with fewer, all but 4 of them, which leaves room for b's packets and a's broadcast (16 accumulators
/// of AVX2's 16 registers made the compiler move them through the stack at every step: the output
/// layer's forward product ran about 1.35x slower on an AVX2 CPU, docs/performance.md). The register
/// count is Eigen's, for the instruction set it was compiled for.
template <int CP>
inline constexpr int kTileRows = [] {
    constexpr int registers = static_cast<int>(EIGEN_ARCH_DEFAULT_NUMBER_OF_REGISTERS);
    return std::max(1, (registers >= 32 ? 16 : registers - 4) / CP);
}();

/// The register tile the three products share. For r < R, with b_s the CP packets at b + s * b_step:
///   out row r  = alpha * (init + sum over s < steps of a[r * a_row + s * a_step] * b_s)
/// (or += that when `accumulate`); init is CP packets, or zero when null; out's rows are ld_out apart.
/// Each step is CP packet loads, R broadcasts and R * CP fused multiply-adds.
template <int R, int CP, typename T>
void narrow_tile(const T* a, std::int64_t a_row, std::int64_t a_step, const T* b, std::int64_t b_step,
                 std::int64_t steps, const T* init, T* out, std::int64_t ld_out, bool accumulate, T alpha) {
    using Eigen::internal::padd, Eigen::internal::pmadd, Eigen::internal::pmul, Eigen::internal::ploadu,
        Eigen::internal::pset1, Eigen::internal::pstoreu;
    constexpr int P = kPacketSize<T>;
    // The loops over r and c are unrolled (the pragmas) so that the compiler keeps the whole tile in
    // registers; otherwise GCC moves it through the stack before and after the loop over s, which took
    // about as long as the loop itself when s runs only C = 32 steps (narrow_times_wide).
    Packet<T> start[CP];
#pragma GCC unroll 16
    for (int c = 0; c < CP; ++c) start[c] = init ? ploadu<Packet<T>>(init + c * P) : pset1<Packet<T>>(T(0));
    Packet<T> acc[R][CP];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int c = 0; c < CP; ++c) acc[r][c] = start[c];
    for (std::int64_t s = 0; s < steps; ++s) {
        Packet<T> b_packets[CP];
#pragma GCC unroll 16
        for (int c = 0; c < CP; ++c) b_packets[c] = ploadu<Packet<T>>(b + s * b_step + c * P);
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const Packet<T> a_broadcast = pset1<Packet<T>>(a[r * a_row + s * a_step]);
#pragma GCC unroll 16
            for (int c = 0; c < CP; ++c) acc[r][c] = pmadd(a_broadcast, b_packets[c], acc[r][c]);
        }
    }
    const Packet<T> scale = pset1<Packet<T>>(alpha);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
        for (int c = 0; c < CP; ++c) {
            T* dst = out + r * ld_out + c * P;
            const Packet<T> result = alpha == T(1) ? acc[r][c] : pmul(scale, acc[r][c]);
            pstoreu(dst, accumulate ? padd(ploadu<Packet<T>>(dst), result) : result);
        }
}

/// Runs tile(std::integral_constant<int, R>(), first_row) over `rows` rows of a result: full tiles of
/// kTileRows<CP> rows, split over the OpenMP threads when there is enough work (and no parallel region
/// around; work 0 keeps it on the calling thread), then the leftover rows one at a time.
template <int CP, typename Tile>
void for_row_tiles(std::int64_t rows, std::int64_t work, Tile&& tile) {
    constexpr int R = kTileRows<CP>;
    const std::int64_t tiles = rows / R;
    auto run = [&](std::int64_t t0, std::int64_t t1) {
        for (std::int64_t t = t0; t < t1; ++t) tile(std::integral_constant<int, R>(), t * R);
    };
#ifdef _OPENMP
    if (!omp_in_parallel() && omp_get_max_threads() > 1 && work >= (std::int64_t(1) << 18) && tiles > 1) {
        BABYGPT_OMP(parallel)
        {
            const std::int64_t parts = omp_get_num_threads(), p = omp_get_thread_num();
            run(tiles * p / parts, tiles * (p + 1) / parts);
        }
    } else {
        run(0, tiles);
    }
#else
    static_cast<void>(work);  // only decides whether to split across threads
    run(0, tiles);
#endif
    for (std::int64_t i = tiles * R; i < rows; ++i) tile(std::integral_constant<int, 1>(), i);
}

/// out (M, C) = alpha * A (M, K) B (K, C), or += when `accumulate`. A's rows are lda apart; B and out
/// are dense (rows C apart).
template <typename T>
void rows_times_narrow(const T* A, std::int64_t lda, const T* B, std::int64_t M, std::int64_t K, std::int64_t C,
                       T* out, bool accumulate, T alpha = 1) {
    with_constant<1, 2, 4>(C / kPacketSize<T>, [&](auto packets) {  // narrow_product_fits(C) holds
        constexpr int CP = decltype(packets)::value;
        for_row_tiles<CP>(M, M * K * C, [&](auto rows, std::int64_t i) {  // rows i .. i + R - 1 of out
            narrow_tile<decltype(rows)::value, CP>(A + i * lda, lda, 1, B, C, K, static_cast<const T*>(nullptr),
                                                   out + i * C, C, accumulate, alpha);
        });
    });
}

/// out (K, C) = alpha * A (M, K)^T X (M, C), or += when `accumulate`: row k of out sums A[m][k] x_m over
/// m. A's rows are lda apart; X and out are dense.
template <typename T>
void columns_times_narrow(const T* A, std::int64_t lda, const T* X, std::int64_t M, std::int64_t K, std::int64_t C,
                          T* out, bool accumulate, T alpha = 1) {
    with_constant<1, 2, 4>(C / kPacketSize<T>, [&](auto packets) {  // narrow_product_fits(C) holds
        constexpr int CP = decltype(packets)::value;
        for_row_tiles<CP>(K, M * K * C, [&](auto rows, std::int64_t k) {  // rows k .. k + R - 1 of out
            narrow_tile<decltype(rows)::value, CP>(A + k, 1, lda, X, C, M, static_cast<const T*>(nullptr),
                                                   out + k * C, C, accumulate, alpha);
        });
    });
}

/// out (C, ld_out) = B^T for B (K, C) dense, zeros in columns K .. ld_out - 1. When C is a multiple of
/// the packet size P, in (P, P) blocks transposed in registers (Eigen's ptranspose); the rows left over,
/// and other C, element by element.
template <typename T>
void transpose_padded(const T* B, std::int64_t K, std::int64_t C, T* out, std::int64_t ld_out) {
    constexpr int P = kPacketSize<T>;
    std::int64_t done = 0;  // rows of B transposed so far
    if constexpr (P > 1) {
        if (C % P == 0) {
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"  // a SIMD type as a template argument, as Eigen does
#endif
            using Block = Eigen::internal::PacketBlock<Packet<T>, P>;
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
            for (; done + P <= K; done += P)
                for (std::int64_t c0 = 0; c0 < C; c0 += P) {
                    Block block;
                    for (int i = 0; i < P; ++i) block.packet[i] = Eigen::internal::ploadu<Packet<T>>(B + (done + i) * C + c0);
                    Eigen::internal::ptranspose(block);
                    for (int i = 0; i < P; ++i) Eigen::internal::pstoreu(out + (c0 + i) * ld_out + done, block.packet[i]);
                }
        }
    }
    for (std::int64_t c = 0; c < C; ++c) {
        for (std::int64_t k = done; k < K; ++k) out[c * ld_out + k] = B[k * C + c];
        std::fill(out + c * ld_out + K, out + (c + 1) * ld_out, T(0));
    }
}

/// Columns per tile of narrow_times_wide: two packets.
template <typename T>
inline constexpr int kWideTileColumns = 2 * kPacketSize<T>;

/// The number of column tiles, or panels, of a (., V) product.
template <typename T>
constexpr std::int64_t wide_panel_count(std::int64_t V) {
    return (V + kWideTileColumns<T> - 1) / kWideTileColumns<T>;
}

/// panels (wide_panel_count(V), C, W) = B^T for B (V, C) dense, cut into panels of W = kWideTileColumns
/// columns, each panel (C, W) contiguous, zeros past column V in the last: the layout narrow_times_wide
/// reads. A tile's operand is then one 4 KB block (C = 32, float) read front to back, where the rows of
/// one long B^T would be V floats apart, a page each at V = 6,100 (docs/performance.md).
template <typename T>
void wide_panels(const T* B, std::int64_t V, std::int64_t C, T* panels) {
    constexpr std::int64_t W = kWideTileColumns<T>;
    for (std::int64_t p = 0; p < wide_panel_count<T>(V); ++p)
        transpose_padded(B + p * W * C, std::min(W, V - p * W), C, panels + p * C * W, W);
}

/// Calls tile(v0, width, init) for the column tiles of a (., V) product, kWideTileColumns<T> columns each
/// (the last one only `width` wide when they do not divide V); init is the tile's bias, zero-padded to a
/// whole tile for the last one, or null without a bias.
template <typename T, typename Tile>
void for_column_tiles(std::int64_t V, const T* bias, Tile&& tile) {
    constexpr int W = kWideTileColumns<T>;
    for (std::int64_t v0 = 0; v0 < V; v0 += W) {
        const std::int64_t width = std::min<std::int64_t>(W, V - v0);
        T bias_tail[W] = {};  // the last, partial tile's bias, zero-padded to a whole tile
        if (bias && width < W) std::copy_n(bias + v0, width, bias_tail);
        tile(v0, width, !bias ? nullptr : width == W ? bias + v0 : bias_tail);
    }
}

/// out (M, V) = X (M, C) B^T + bias, single-threaded (callers split M), with B^T as wide_panels lays it
/// out. X is dense (rows C apart), out's rows are ld_out apart; bias (V) may be null. Any C.
template <typename T>
void narrow_times_wide(const T* X, std::int64_t M, std::int64_t C, const T* panels, std::int64_t V, const T* bias,
                       T* out, std::int64_t ld_out) {
    constexpr int VP = 2, W = kWideTileColumns<T>;
    // Column tiles outermost: the tile's (C, W) panel stays in L1 while every row passes.
    for_column_tiles<T>(V, bias, [&](std::int64_t v0, std::int64_t width, const T* init) {
        const T* panel = panels + v0 * C;  // panel v0 / W, (C, W)
        for_row_tiles<VP>(M, 0, [&](auto rows, std::int64_t i) {  // rows i .. i + RR - 1, columns v0 .. v0 + W - 1
            constexpr int RR = decltype(rows)::value;
            if (width == W) return narrow_tile<RR, VP>(X + i * C, C, 1, panel, W, C, init, out + i * ld_out + v0,
                                                       ld_out, false, T(1));
            T scratch[RR][W];  // the partial column tile goes through a whole one
            narrow_tile<RR, VP>(X + i * C, C, 1, panel, W, C, init, &scratch[0][0], W, false, T(1));
            for (int r = 0; r < RR; ++r) std::copy_n(scratch[r], width, out + (i + r) * ld_out + v0);
        });
    });
}

/// lse (M) = the log-sum-exp of each row of X (M, C) W^T + bias, without ever writing that (M, V)
/// product: all an evaluation needs of the logits (with each row's target logit, one dot product).
/// Operands as narrow_times_wide. Each row keeps a running maximum m and one SIMD packet of partial sums
/// of exp(logit - m); a tile whose largest logit exceeds m first rescales the sums by exp(m_old - m_new)
/// (the "online softmax"), so the logits of a tile are used while still in registers and L1, and
/// nothing V wide goes through memory. At the end lse = m + log(sum of the packet's lanes).
template <typename T>
void narrow_times_wide_logsumexp(const T* X, std::int64_t M, std::int64_t C, const T* panels, std::int64_t V,
                                 const T* bias, T* lse) {
    using Eigen::internal::padd, Eigen::internal::pcmp_lt, Eigen::internal::pexp, Eigen::internal::pmax,
        Eigen::internal::pmul, Eigen::internal::ploadu, Eigen::internal::predux, Eigen::internal::predux_any,
        Eigen::internal::predux_max, Eigen::internal::pset1, Eigen::internal::pstoreu, Eigen::internal::psub;
    constexpr int VP = 2, P = kPacketSize<T>, W = kWideTileColumns<T>;
    constexpr T minus_infinity = -std::numeric_limits<T>::infinity();
    std::vector<T> row_max(static_cast<std::size_t>(M), minus_infinity);  // m of each row so far
    std::vector<T> sums(static_cast<std::size_t>(M * P), T(0));            // row i: lanes i*P .. i*P + P - 1

    // Folds one row's W logits (the lanes past `width` are -inf, whose exp is 0) into its m and sums.
    auto fold = [&](const T* logits, std::int64_t i) {
        const Packet<T> x0 = ploadu<Packet<T>>(logits), x1 = ploadu<Packet<T>>(logits + P);
        const Packet<T> x_max = pmax(x0, x1);
        T& m = row_max[static_cast<std::size_t>(i)];
        T* sum = sums.data() + i * P;
        Packet<T> s = ploadu<Packet<T>>(sum);
        Packet<T> shift = pset1<Packet<T>>(m);
        // One lane-wise comparison first: after the first tiles a row's maximum rarely grows, and the
        // horizontal maximum across lanes costs as much as the rest of the fold.
        if (predux_any(pcmp_lt(shift, x_max))) {  // a new maximum: sum exp(x - m_old) = exp(m_new - m_old) sum exp(x - m_new)
            const T tile_max = predux_max(x_max);
            s = pmul(s, pset1<Packet<T>>(std::exp(m - tile_max)));
            m = tile_max;
            shift = pset1<Packet<T>>(m);
        }
        pstoreu(sum, padd(s, padd(pexp(psub(x0, shift)), pexp(psub(x1, shift)))));
    };
    // Column tiles outermost, as in narrow_times_wide: the tile's (C, W) panel stays in L1.
    for_column_tiles<T>(V, bias, [&](std::int64_t v0, std::int64_t width, const T* init) {
        const T* panel = panels + v0 * C;  // panel v0 / W, (C, W)
        for_row_tiles<VP>(M, 0, [&](auto rows, std::int64_t i) {  // rows i .. i + RR - 1
            constexpr int RR = decltype(rows)::value;
            T tile[RR][W];  // (RR, W) logits, on the stack
            narrow_tile<RR, VP>(X + i * C, C, 1, panel, W, C, init, &tile[0][0], W, false, T(1));
            for (int r = 0; r < RR; ++r) {
                std::fill(tile[r] + width, tile[r] + W, minus_infinity);
                fold(tile[r], i + r);
            }
        });
    });
    for (std::int64_t i = 0; i < M; ++i)
        lse[i] = row_max[static_cast<std::size_t>(i)] + std::log(predux(ploadu<Packet<T>>(sums.data() + i * P)));
}

}  // namespace babygpt::kernels
