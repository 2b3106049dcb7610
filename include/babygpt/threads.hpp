#pragma once
// Parallelism: one knob for both Eigen's GEMM threads and the library's own OpenMP loops.
// Results are bit-identical for a fixed thread count: every output element is computed by one thread.

#include <Eigen/Core>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "babygpt/error.hpp"

namespace babygpt {

/// Sets how many threads the compute uses (Eigen's GEMM and OpenMP loops); 1 runs single-threaded.
inline void set_num_threads(int n) {
    BABYGPT_CHECK(n >= 1, "set_num_threads: need at least 1 thread, got ", n);
    Eigen::setNbThreads(n);
#ifdef _OPENMP
    omp_set_num_threads(n);
#endif
}

inline int num_threads() { return Eigen::nbThreads(); }

}  // namespace babygpt
