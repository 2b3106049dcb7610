#pragma once
// Reference mode: every fused op runs as the plain ops it stands for.
//
// The fast paths (fused attention over all heads, linear + cross-entropy in one op, the fused
// LayerNorm, the narrow-side product kernels) each compute what a short composition of plain ops
// computes. Under a ReferenceModeGuard they run as that composition instead: attention as each Head's
// forward, concatenated and projected (and the causal_self_attention op, called directly, as each
// head's plain ops with the same dropout mask); the output layer and loss as cross_entropy(linear(...));
// LayerNorm from means, variances and sqrt; products as one general GEMM. Two uses:
//   - reading: step through a training step in a debugger and every line is one formula of the model;
//   - testing: the fast path, run on the same inputs, must give the reference's values and gradients
//     (tests/test_reference_mode.cpp), so the two can never drift apart.
//
//     {
//         babygpt::ReferenceModeGuard reference;
//         auto loss = model.loss(idx, idx);  // the plain composition (idx: (B, T) token ids)
//         loss.backward();
//     }
//
// The flag is per thread, like GradMode: set it on the thread that calls the ops.

namespace babygpt {

class ReferenceMode {
public:
    static bool is_enabled() { return enabled_flag(); }
    static void set_enabled(bool on) { enabled_flag() = on; }

private:
    static bool& enabled_flag() {
        thread_local bool enabled = false;
        return enabled;
    }
};

/// RAII scope in which the fused ops run as their plain compositions.
class ReferenceModeGuard {
public:
    ReferenceModeGuard() : previous_(ReferenceMode::is_enabled()) { ReferenceMode::set_enabled(true); }
    ~ReferenceModeGuard() { ReferenceMode::set_enabled(previous_); }
    ReferenceModeGuard(const ReferenceModeGuard&) = delete;
    ReferenceModeGuard& operator=(const ReferenceModeGuard&) = delete;

private:
    bool previous_;
};

}  // namespace babygpt
