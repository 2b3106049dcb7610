#pragma once
// bf16 mixed precision for the linear layers' matrix products.
//
// bf16 keeps float32's 8 exponent bits and 7 of its 23 mantissa bits: the same range, about 3
// significant digits. CPUs with AVX512-BF16 multiply bf16 pairs and add them into float32 sums at twice
// the rate of float32 multiply-adds. Under a Bf16ProductsGuard every product of a linear layer (its
// output X W^T and both gradients, G W and G^T X) rounds its two operands to bf16 and sums in float32;
// everything else stays float32: the weights themselves (the optimizer updates float32 master weights),
// the attention's products, LayerNorm, softmax, the output layer fused with the loss, and so every
// checkpoint. Float tensors only; double products are never rounded.
//
//     if (babygpt::bf16_products_available()) {
//         babygpt::Bf16ProductsGuard bf16;
//         auto loss = model.loss(idx, idx);  // the blocks' linear layers in bf16 (idx: (B, T) token ids)
//         loss.backward();
//     }
//
// The bf16 products run on oneDNN's matmul (Debian: libdnnl-dev): define BABYGPT_ONEDNN and link
// libdnnl to have them (the programs built here do when CMake finds oneDNN). Without it, or on a CPU
// without bf16 instructions, bf16_products_available() is false and a guard throws, saying why.
//
// The flag is per thread, like GradMode and ReferenceMode: set it on the thread that calls the ops.

#include <string>

#include "babygpt/error.hpp"
#include "babygpt/kernels/bf16_gemm.hpp"

namespace babygpt {

/// Whether bf16 products can run here; when not, `why_not` (if given) says what is missing.
inline bool bf16_products_available(std::string* why_not = nullptr) {
    const std::string& reason = kernels::bf16_gemm_unavailable_reason();
    if (why_not) *why_not = reason;
    return reason.empty();
}

class Bf16Products {
public:
    static bool is_enabled() { return enabled_flag(); }
    static void set_enabled(bool on) {
        std::string why_not;
        BABYGPT_CHECK(!on || bf16_products_available(&why_not), "bf16 products are not available: ", why_not);
        enabled_flag() = on;
    }

private:
    static bool& enabled_flag() {
        thread_local bool enabled = false;
        return enabled;
    }
};

/// RAII scope in which the linear layers' products take bf16 operands (true) or float32 ones (false).
class Bf16ProductsGuard {
public:
    explicit Bf16ProductsGuard(bool on = true) : previous_(Bf16Products::is_enabled()) { Bf16Products::set_enabled(on); }
    ~Bf16ProductsGuard() { Bf16Products::set_enabled(previous_); }
    Bf16ProductsGuard(const Bf16ProductsGuard&) = delete;
    Bf16ProductsGuard& operator=(const Bf16ProductsGuard&) = delete;

private:
    bool previous_;
};

}  // namespace babygpt
