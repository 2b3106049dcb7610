// Tests for memory_budget.hpp: tensor buffers are charged to the op open when they were allocated, and
// the account keeps the live bytes per kind at the highest total.

#include <doctest/doctest.h>

#include "babygpt/memory_budget.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/tensor.hpp"

using namespace babygpt;

namespace {

/// A tensor of n floats allocated while `op` is the current op (in `phase`).
Tensorf allocated_in(const char* op, profiler::Phase phase, std::int64_t n) {
    profiler::Scope scope(op, phase);
    return Tensorf::zeros({n});
}

}  // namespace

TEST_CASE("memory_budget: buffers are charged to the op that allocated them, and the peak keeps them") {
    memory_budget::enable(true);
    {
        const Tensorf a = allocated_in("budget_test_a", profiler::Phase::forward, 1000);
        {
            const Tensorf b = allocated_in("budget_test_b", profiler::Phase::backward, 500);
            const Tensorf c = Tensorf::zeros({250});  // outside any op
        }
        // b and c went back to the pool; a new, smaller buffer does not raise the peak.
        const Tensorf d = allocated_in("budget_test_a", profiler::Phase::forward, 100);
    }
    const memory_budget::Snapshot peak = memory_budget::at_peak();
    memory_budget::enable(false);
    // The bytes the tensors asked for (the pool rounds its buffers up to 64 bytes; the account does not).
    CHECK(peak.bytes.at("budget_test_a") == 4000);
    CHECK(peak.bytes.at("budget_test_b backward") == 2000);
    CHECK(peak.bytes.at("outside any op") == 1000);
    CHECK(peak.total == 7000);
}

TEST_CASE("memory_budget: an op's own scope names its buffers; off, nothing is counted") {
    const Tensorf x = Tensorf::ones({64});
    memory_budget::enable(true);
    const Tensorf y = relu(x);  // relu opens a profiler scope
    CHECK(memory_budget::at_peak().bytes.at("relu") == 256);
    memory_budget::enable(false);
    const Tensorf z = relu(x);
    CHECK(memory_budget::at_peak().total == 256);  // the account of the last enable(true), unchanged by z
}
