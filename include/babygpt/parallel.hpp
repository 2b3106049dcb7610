#pragma once
// BABYGPT_OMP(directive): an OpenMP pragma that exists only when OpenMP is on.
//
//     std::vector<double> v(100000, 1.0);
//     const auto n = static_cast<std::int64_t>(v.size());
//     BABYGPT_OMP(parallel for schedule(static) if (n > 65536))
//     for (std::int64_t i = 0; i < n; ++i) v[static_cast<std::size_t>(i)] *= 2;
//
// is `#pragma omp parallel for schedule(static) if (n > 65536)` under -fopenmp (which defines _OPENMP)
// and nothing without it. A bare `#pragma omp` in a header would make every consumer that builds
// without OpenMP see -Wunknown-pragmas under -Wall; the loops then simply run on one thread. (The
// `simd` hints need -fopenmp too: -fopenmp-simd alone does not define _OPENMP, and those loops are
// then left to the auto-vectoriser.)

#ifdef _OPENMP
#define BABYGPT_PRAGMA(text) _Pragma(#text)
#define BABYGPT_OMP(...) BABYGPT_PRAGMA(omp __VA_ARGS__)
#else
#define BABYGPT_OMP(...)
#endif
