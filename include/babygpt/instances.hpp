#pragma once
// Precompiled instances: the library's templates for float and double, compiled once instead of in
// every file that uses them.
//
// babygpt is header-only: any file that includes it can instantiate every op, module and model it
// uses. That is what makes a program that trains a GPT cost about a minute of compiler time per file
// (Eigen's expression templates and products, instantiated for each op). Where many files use the
// library, or a program is rebuilt often, compile those instantiations once:
//
//   - every file that includes babygpt is compiled with BABYGPT_PRECOMPILED defined: the declarations
//     below then say "extern template", and the compiler does not instantiate these again;
//   - eight files compile them, one part each (so that no single compilation needs much time or
//     memory): each defines BABYGPT_INSTANTIATE_<SCALAR>_<PART>, SCALAR being FLOAT or DOUBLE and PART
//     one of TENSOR, PRODUCTS, ATTENTION and MODULES (the four lists below), then includes
//     <babygpt/babygpt.hpp> (with BABYGPT_PRECOMPILED defined too); that part then says "template"
//     there, and "extern template" everywhere else.
//
// The CMake target babygpt::precompiled does both for you (link it instead of babygpt::babygpt).
// Without these macros nothing here has any effect: the library stays header-only.

#ifdef BABYGPT_PRECOMPILED

#include "babygpt/gradcheck.hpp"
#include "babygpt/io/checkpoint.hpp"
#include "babygpt/io/state_dict.hpp"
#include "babygpt/models/gpt.hpp"
#include "babygpt/models/kv_cache.hpp"
#include "babygpt/nn/activation.hpp"
#include "babygpt/nn/attention.hpp"
#include "babygpt/nn/block.hpp"
#include "babygpt/nn/dropout.hpp"
#include "babygpt/nn/embedding.hpp"
#include "babygpt/nn/feed_forward.hpp"
#include "babygpt/nn/layer_norm.hpp"
#include "babygpt/nn/linear.hpp"
#include "babygpt/nn/module.hpp"
#include "babygpt/nn/sequential.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/attention.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/embedding.hpp"
#include "babygpt/ops/layer_norm.hpp"
#include "babygpt/ops/linear.hpp"
#include "babygpt/ops/linear_cross_entropy.hpp"
#include "babygpt/ops/loss.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/ops/softmax.hpp"
#include "babygpt/optim/adamw.hpp"
#include "babygpt/optim/sgd.hpp"

// The tensor and the elementwise, shape, reduction, softmax, embedding, loss and dropout ops.
#define BABYGPT_TENSOR_INSTANCES(T, INSTANCE)                                                      \
    namespace babygpt {                                                                            \
    INSTANCE class Tensor<T>;                                                                      \
    namespace detail {                                                                             \
    INSTANCE Tensor<T> binary<T>(BinaryOp, const Tensor<T>&, const Tensor<T>&);                    \
    }                                                                                              \
    INSTANCE Tensor<T> add_scalar<T>(const Tensor<T>&, T);                                         \
    INSTANCE Tensor<T> mul_scalar<T>(const Tensor<T>&, T);                                         \
    INSTANCE Tensor<T> rdiv_scalar<T>(T, const Tensor<T>&);                                        \
    INSTANCE Tensor<T> relu<T>(const Tensor<T>&);                                                  \
    INSTANCE Tensor<T> gelu<T>(const Tensor<T>&);                                                  \
    INSTANCE Tensor<T> tanh<T>(const Tensor<T>&);                                                  \
    INSTANCE Tensor<T> exp<T>(const Tensor<T>&);                                                   \
    INSTANCE Tensor<T> log<T>(const Tensor<T>&);                                                   \
    INSTANCE Tensor<T> sqrt<T>(const Tensor<T>&);                                                  \
    INSTANCE Tensor<T> reshape<T>(const Tensor<T>&, Shape);                                        \
    INSTANCE Tensor<T> transpose<T>(const Tensor<T>&);                                             \
    INSTANCE Tensor<T> concat<T>(const std::vector<Tensor<T>>&);                                   \
    INSTANCE Tensor<T> narrow_last<T>(const Tensor<T>&, std::int64_t, std::int64_t);               \
    INSTANCE std::vector<Tensor<T>> split<T>(const Tensor<T>&, const std::vector<std::int64_t>&);  \
    INSTANCE std::vector<Tensor<T>> split<T>(const Tensor<T>&, std::int64_t);                      \
    INSTANCE Tensor<T> sum<T>(const Tensor<T>&);                                                   \
    INSTANCE Tensor<T> sum<T>(const Tensor<T>&, std::int64_t, bool);                               \
    INSTANCE Tensor<T> mean<T>(const Tensor<T>&);                                                  \
    INSTANCE Tensor<T> mean<T>(const Tensor<T>&, std::int64_t, bool);                              \
    INSTANCE Tensor<T> softmax<T>(const Tensor<T>&);                                               \
    INSTANCE Tensor<T> log_softmax<T>(const Tensor<T>&);                                           \
    INSTANCE Tensor<T> masked_fill<T>(const Tensor<T>&, const Tensor<T>&, T);                      \
    INSTANCE Tensor<T> causal_mask<T>(const Tensor<T>&, T);                                        \
    INSTANCE Tensor<T> embedding<T>(const Tensor<T>&, const IndexTensor&);                         \
    INSTANCE Tensor<T> cross_entropy<T>(const Tensor<T>&, const IndexTensor&);                     \
    INSTANCE Tensor<T> mse_loss<T>(const Tensor<T>&, const Tensor<T>&);                            \
    INSTANCE Tensor<T> dropout<T>(const Tensor<T>&, double, bool, Generator&);                     \
    }

// The products: matmul, linear, and the output layer fused with the loss.
#define BABYGPT_PRODUCT_INSTANCES(T, INSTANCE)                                                        \
    namespace babygpt {                                                                               \
    INSTANCE Tensor<T> matmul<T>(const Tensor<T>&, const Tensor<T>&);                                 \
    INSTANCE Tensor<T> linear<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&);               \
    INSTANCE Tensor<T> cat_rows<T>(const std::vector<Tensor<T>>&);                                    \
    INSTANCE Tensor<T> linear_cross_entropy<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&,  \
        const IndexTensor&);                                                                          \
    }

// LayerNorm and causal self-attention, with their fixed-size kernels.
#define BABYGPT_ATTENTION_INSTANCES(T, INSTANCE)                                                          \
    namespace babygpt {                                                                                   \
    INSTANCE Tensor<T> layer_norm<T>(const Tensor<T>&, const Tensor<T>&, const Tensor<T>&, double);       \
    INSTANCE Tensor<T> causal_self_attention<T>(const Tensor<T>&, std::int64_t, double, bool, Generator&); \
    }

// The modules, optimizers, models and their state_dict functions.
#define BABYGPT_MODULE_INSTANCES(T, INSTANCE)                                             \
    namespace babygpt {                                                                   \
    namespace nn {                                                                        \
    INSTANCE class Module<T>;                                                             \
    INSTANCE class Linear<T>;                                                             \
    INSTANCE class Embedding<T>;                                                          \
    INSTANCE class LayerNorm<T>;                                                          \
    INSTANCE class Dropout<T>;                                                            \
    INSTANCE class ReLU<T>;                                                               \
    INSTANCE class GELU<T>;                                                               \
    INSTANCE class Sequential<T>;                                                         \
    INSTANCE class Head<T>;                                                               \
    INSTANCE struct AttentionCache<T>;                                                    \
    INSTANCE class MultiHeadAttention<T>;                                                 \
    INSTANCE class FeedForward<T>;                                                        \
    INSTANCE class Block<T>;                                                              \
    }                                                                                     \
    namespace optim {                                                                     \
    INSTANCE class AdamW<T>;                                                              \
    INSTANCE class SGD<T>;                                                                \
    }                                                                                     \
    INSTANCE class GPT<T>;                                                                \
    INSTANCE class KVCacheDecoder<T>;                                                     \
    namespace io {                                                                        \
    INSTANCE safetensors::Contents state_dict<T>(const nn::Module<T>&);                   \
    INSTANCE void load_state_dict<T>(const nn::Module<T>&, const safetensors::Contents&,  \
        const std::string&, const std::vector<std::string>&);                             \
    INSTANCE void save_state_dict<T>(const std::string&, const nn::Module<T>&,            \
        const std::map<std::string, std::string>&);                                       \
    INSTANCE void load_state_dict<T>(const nn::Module<T>&, const std::string&);           \
    INSTANCE void save<T>(const nn::Module<T>&, const std::string&);                      \
    INSTANCE void load<T>(const nn::Module<T>&, const std::string&);                      \
    INSTANCE safetensors::Contents adamw_state_dict<T>(const optim::AdamW<T>&,            \
        const nn::Module<T>&);                                                            \
    INSTANCE void load_adamw_state_dict<T>(optim::AdamW<T>&, const nn::Module<T>&,        \
        const safetensors::Contents&, const std::string&);                                \
    }                                                                                     \
    }

#ifdef BABYGPT_INSTANTIATE_FLOAT_TENSOR
BABYGPT_TENSOR_INSTANCES(float, template)
#else
BABYGPT_TENSOR_INSTANCES(float, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_FLOAT_PRODUCTS
BABYGPT_PRODUCT_INSTANCES(float, template)
#else
BABYGPT_PRODUCT_INSTANCES(float, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_FLOAT_ATTENTION
BABYGPT_ATTENTION_INSTANCES(float, template)
#else
BABYGPT_ATTENTION_INSTANCES(float, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_FLOAT_MODULES
BABYGPT_MODULE_INSTANCES(float, template)
#else
BABYGPT_MODULE_INSTANCES(float, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_DOUBLE_TENSOR
BABYGPT_TENSOR_INSTANCES(double, template)
#else
BABYGPT_TENSOR_INSTANCES(double, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_DOUBLE_PRODUCTS
BABYGPT_PRODUCT_INSTANCES(double, template)
#else
BABYGPT_PRODUCT_INSTANCES(double, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_DOUBLE_ATTENTION
BABYGPT_ATTENTION_INSTANCES(double, template)
#else
BABYGPT_ATTENTION_INSTANCES(double, extern template)
#endif
#ifdef BABYGPT_INSTANTIATE_DOUBLE_MODULES
BABYGPT_MODULE_INSTANCES(double, template)
#else
BABYGPT_MODULE_INSTANCES(double, extern template)
#endif

#undef BABYGPT_TENSOR_INSTANCES
#undef BABYGPT_PRODUCT_INSTANCES
#undef BABYGPT_ATTENTION_INSTANCES
#undef BABYGPT_MODULE_INSTANCES

#endif  // BABYGPT_PRECOMPILED
