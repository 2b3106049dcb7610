#pragma once
// Dropout(p): zeroes elements with probability p in training mode; the identity in eval mode.
// Masks are drawn from the Generator given at construction, which must outlive the module.

#include "babygpt/nn/module.hpp"
#include "babygpt/ops/dropout.hpp"

namespace babygpt::nn {

template <typename T>
class Dropout : public Module<T> {
public:
    Dropout(double p, Generator& gen) : p(p), gen_(&gen) {
        BABYGPT_CHECK(p >= 0.0 && p < 1.0, "Dropout: p must be in [0, 1), got ", p);
    }

    Tensor<T> forward(const Tensor<T>& x) const { return dropout(x, p, this->is_training(), *gen_); }

    double p;

private:
    Generator* gen_;
};

}  // namespace babygpt::nn
