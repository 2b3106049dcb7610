#pragma once
// Parallelism: one knob for Eigen's GEMM threads and the library's own OpenMP loops (which include the
// row-split products of kernels/gemm.hpp). When Eigen's products go to OpenBLAS (EIGEN_USE_BLAS with
// BABYGPT_OPENBLAS defined), OpenBLAS itself is kept to one thread.
// Results are bit-identical for a fixed thread count: every output element is computed by one thread.

#include <Eigen/Core>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "babygpt/error.hpp"

#ifdef BABYGPT_OPENBLAS
extern "C" void openblas_set_num_threads(int num_threads);
#endif

namespace babygpt {

/// The most threads set_num_threads accepts. More is never useful on a CPU, and OpenMP runtimes fail
/// (libgomp crashes) when asked for tens of thousands.
inline constexpr int max_threads = 256;

/// Sets how many threads the compute uses (Eigen's GEMM and OpenMP loops); 1 runs single-threaded.
inline void set_num_threads(int n) {
    BABYGPT_CHECK(n >= 1 && n <= max_threads, "set_num_threads: the thread count must be between 1 and ",
                  max_threads, ", got ", n);
    Eigen::setNbThreads(n);
#ifdef BABYGPT_OPENBLAS
    // OpenBLAS stays single-threaded: the big products are split across the OpenMP threads instead
    // (kernels/gemm.hpp), so its own thread pool would only compete with them for the cores.
    openblas_set_num_threads(1);
#endif
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

inline int num_threads() { return Eigen::nbThreads(); }

}  // namespace babygpt
