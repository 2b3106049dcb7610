#pragma once
// --threads, the same rule for every subcommand: 1 to max_threads, by default the cores this process
// may use.

namespace babygpt_cli {

/// The most threads any subcommand accepts. A fixed bound (not a multiple of this machine's cores) so
/// that a config file means the same everywhere; far above any useful count, and far below what makes
/// the OpenMP runtime fail to start its threads.
inline constexpr int max_threads = 256;

/// The cores this process may run on: the CPU affinity mask (taskset, cpusets), lowered to the cgroup
/// v2 CPU quota (/sys/fs/cgroup/cpu.max, e.g. "200000 100000" allows 2 cores) when there is one; at
/// least 1, at most max_threads.
int available_cores();

/// The default --threads of one of `ranks` processes on this machine (data-parallel training): its
/// fair share of the machine's cores, and no more than it may use (mpirun binds each of 2 ranks to
/// one core by default). available_cores() for a single process.
int default_threads(int ranks);

/// Throws babygpt::Error unless 1 <= threads <= max_threads: "--threads must be between 1 and 256, got N".
void check_threads(long long threads);

}  // namespace babygpt_cli
