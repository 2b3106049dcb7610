#pragma once
// A switchable account of tensor memory by kind, for benchmarks: with it on, every tensor buffer is
// charged to the op that allocated it (the op whose profiler::Scope is open on that thread: "linear",
// "relu", ...; a backward node's buffers, the gradients, to "<op> backward") until the buffer goes back
// to the pool. The account keeps the live bytes per kind and a copy of them taken when the total was
// at its highest: what a training step holds at its peak, and who allocated it. Buffers only: Eigen's
// own temporaries and std::vectors inside kernels are not tensors and are not counted.
// Off by default, when an allocation costs one branch.
//
//     #include <babygpt/memory_budget.hpp>
//     babygpt::memory_budget::enable(true);
//     model.loss(idx, idx).backward();  // a training step (any token ids serve as targets)
//     for (const auto& [kind, bytes] : babygpt::memory_budget::at_peak().bytes) std::printf("%s: %zu bytes\n", kind.c_str(), bytes);
//     babygpt::memory_budget::enable(false);

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "babygpt/profiler.hpp"

namespace babygpt::memory_budget {

/// Live bytes per kind ("linear", "relu backward", ...), and their total.
struct Snapshot {
    std::size_t total = 0;
    std::map<std::string, std::size_t> bytes;
};

namespace detail {

/// The account. Kinds are interned as (op name, phase) pairs: op names are string literals. Each
/// enable(true) starts a new generation: a buffer charged in an earlier one is not refunded to this one.
struct Account {
    std::mutex mutex;
    std::atomic<bool> on{false};  // read without the lock, on every allocation
    std::uint64_t generation = 0;
    std::vector<std::pair<const char*, profiler::Phase>> kinds;
    std::vector<std::size_t> live;       // per kind
    std::vector<std::size_t> live_peak;  // `live` when `total` was highest
    std::size_t total = 0, total_peak = 0;

    int kind_of(const char* op, profiler::Phase phase) {
        for (std::size_t k = 0; k < kinds.size(); ++k)
            if (kinds[k].first == op && kinds[k].second == phase) return static_cast<int>(k);
        kinds.emplace_back(op, phase);
        live.push_back(0);
        live_peak.push_back(0);
        return static_cast<int>(kinds.size() - 1);
    }
};

inline Account& account() {
    static Account* a = new Account;  // never destroyed: buffers of static tensors are refunded at exit
    return *a;
}

}  // namespace detail

/// Starts (clearing the account) or stops counting.
inline void enable(bool on) {
    auto& a = detail::account();
    std::lock_guard<std::mutex> lock(a.mutex);
    a.on = on;
    if (on) {
        ++a.generation;
        a.kinds.clear();
        a.live.clear();
        a.live_peak.clear();
        a.total = a.total_peak = 0;
    }
}

/// What charge() booked: the kind and the account's generation; kind -1 when counting was off.
struct Charge {
    int kind = -1;
    std::uint64_t generation = 0;
};

/// Charges `bytes` to the op open on this thread, for refund() when the buffer goes back.
inline Charge charge(std::size_t bytes) {
    auto& a = detail::account();
    if (!a.on) return {};
    const profiler::Current current = profiler::current();
    std::lock_guard<std::mutex> lock(a.mutex);
    const int k = a.kind_of(current.op ? current.op : "outside any op", current.phase);
    a.live[static_cast<std::size_t>(k)] += bytes;
    a.total += bytes;
    if (a.total > a.total_peak) {
        a.total_peak = a.total;
        a.live_peak = a.live;
    }
    return {k, a.generation};
}

/// Gives back what charge() booked (nothing when counting was off then, or is off now, or the account
/// was restarted since).
inline void refund(Charge charged, std::size_t bytes) {
    if (charged.kind < 0) return;
    auto& a = detail::account();
    std::lock_guard<std::mutex> lock(a.mutex);
    if (!a.on || charged.generation != a.generation) return;
    a.live[static_cast<std::size_t>(charged.kind)] -= bytes;
    a.total -= bytes;
}

namespace detail {
inline Snapshot snapshot_of(const Account& a, const std::vector<std::size_t>& live, std::size_t total) {
    Snapshot s;
    s.total = total;
    for (std::size_t k = 0; k < a.kinds.size(); ++k) {
        if (live[k] == 0) continue;
        std::string name = a.kinds[k].first;
        if (a.kinds[k].second == profiler::Phase::backward) name += " backward";
        s.bytes[name] += live[k];
    }
    return s;
}
}  // namespace detail

/// The live bytes per kind at the highest total since enable(true).
inline Snapshot at_peak() {
    auto& a = detail::account();
    std::lock_guard<std::mutex> lock(a.mutex);
    return detail::snapshot_of(a, a.live_peak, a.total_peak);
}

/// The live bytes per kind now (of the buffers charged since enable(true)).
inline Snapshot now() {
    auto& a = detail::account();
    std::lock_guard<std::mutex> lock(a.mutex);
    return detail::snapshot_of(a, a.live, a.total);
}

}  // namespace babygpt::memory_budget
