#pragma once
// Timing for the benchmarks that compare candidates within one process.

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

/// Median seconds of each candidate, timed in alternation (A B C A B C ...) so that a noisy machine
/// slows all of them alike.
inline std::vector<double> alternating_medians(int repeats, const std::vector<std::function<void()>>& candidates) {
    using Clock = std::chrono::steady_clock;
    for (const auto& run : candidates) run();  // warm-up: page faults, caches, blocking buffers
    std::vector<std::vector<double>> times(candidates.size());
    for (int r = 0; r < repeats; ++r)
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            const auto start = Clock::now();
            candidates[i]();
            times[i].push_back(std::chrono::duration<double>(Clock::now() - start).count());
        }
    std::vector<double> medians;
    for (auto& t : times) {
        std::sort(t.begin(), t.end());
        medians.push_back(t[t.size() / 2]);
    }
    return medians;
}
