#pragma once
// A switchable per-op timer for benchmarks: with profiling on, every op's forward (timed by a Scope at
// its top) and every graph node's backward (timed by autograd) add their wall time under the op's name.
// Off by default, when a Scope costs one branch.
//
//     babygpt::profiler::enable(true);
//     babygpt::Tensorf x = babygpt::Tensorf::ones({64, 64}).requires_grad_();
//     babygpt::sum(babygpt::matmul(x, x)).backward();  // a training step would go here
//     for (const auto& [op, seconds] : babygpt::profiler::totals().forward) std::printf("%s: %g s\n", op.c_str(), seconds);
//     babygpt::profiler::enable(false);

#include <chrono>
#include <map>
#include <string>

namespace babygpt::profiler {

struct Totals {
    std::map<std::string, double> forward;   // seconds per op name
    std::map<std::string, double> backward;  // seconds per op name (the node that recorded it)
};

inline bool& enabled_flag() {
    static bool enabled = false;
    return enabled;
}
inline bool enabled() { return enabled_flag(); }
inline void enable(bool on) { enabled_flag() = on; }

inline Totals& totals() {
    static Totals t;
    return t;
}
inline void reset() { totals() = Totals(); }

using Clock = std::chrono::steady_clock;

enum class Phase { forward, backward };

/// The op whose Scope is open on this thread (null outside every op), and its phase: memory_budget.hpp
/// charges the buffers allocated there to it.
struct Current {
    const char* op = nullptr;
    Phase phase = Phase::forward;
};
inline Current& current_on_this_thread() {
    thread_local Current current;
    return current;
}
inline Current current() { return current_on_this_thread(); }

/// Adds the lifetime of the scope to totals().forward[op] (or .backward) when profiling is on, and makes
/// op the current() one meanwhile (always: two thread-local writes).
class Scope {
public:
    explicit Scope(const char* op, Phase phase = Phase::forward)
        : op_(enabled() ? op : nullptr), phase_(phase), outer_(current_on_this_thread()) {
        current_on_this_thread() = Current{op, phase};
        if (op_) start_ = Clock::now();
    }
    ~Scope() {
        current_on_this_thread() = outer_;
        if (!op_) return;
        auto& table = phase_ == Phase::forward ? totals().forward : totals().backward;
        table[op_] += std::chrono::duration<double>(Clock::now() - start_).count();
    }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

private:
    const char* op_;
    Phase phase_;
    Current outer_;  // restored when the scope closes (ops call ops)
    Clock::time_point start_;
};

}  // namespace babygpt::profiler
