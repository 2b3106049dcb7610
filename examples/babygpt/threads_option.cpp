#include "threads_option.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <string>

#include <babygpt/error.hpp>

namespace babygpt_cli {

namespace {

/// The processors online, at least 1, at most max_threads.
int online_cores() {
    const long online = sysconf(_SC_NPROCESSORS_ONLN);
    return online > 0 ? static_cast<int>(std::min<long>(online, max_threads)) : 1;
}

int affinity_cores() {
#ifdef __linux__
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
#endif
    return online_cores();
}

/// ceil(quota / period) from cgroup v2's cpu.max ("max 100000": no quota); 0 when there is none.
int cgroup_quota_cores() {
    std::ifstream in("/sys/fs/cgroup/cpu.max");
    std::string quota;
    double period = 0;
    if (!(in >> quota >> period) || quota == "max" || period <= 0) return 0;
    try {
        const double cores = std::ceil(std::stod(quota) / period);
        return cores >= 1 ? static_cast<int>(std::min<double>(cores, max_threads)) : 1;
    } catch (const std::exception&) {
        return 0;  // an unreadable quota is no quota
    }
}

}  // namespace

int available_cores() {
    int cores = affinity_cores();
    if (const int quota = cgroup_quota_cores(); quota > 0) cores = std::min(cores, quota);
    return std::clamp(cores, 1, max_threads);
}

int default_threads(int ranks) {
    if (ranks <= 1) return available_cores();
    int machine = online_cores();
    if (const int quota = cgroup_quota_cores(); quota > 0) machine = std::min(machine, quota);
    return std::clamp(std::min(available_cores(), machine / ranks), 1, max_threads);
}

void check_threads(long long threads) {
    BABYGPT_CHECK(threads >= 1 && threads <= max_threads, "--threads must be between 1 and ", max_threads, ", got ",
                  threads, " (this process may use ", available_cores(), " cores, the default)");
}

}  // namespace babygpt_cli
