#pragma once
// babygpt: a header-only tensor, autograd and neural-network library on Eigen.
// This umbrella header includes every part of the library.

#include "babygpt/version.hpp"
#include "babygpt/error.hpp"
#include "babygpt/shape.hpp"
#include "babygpt/random.hpp"
#include "babygpt/tensor.hpp"
#include "babygpt/autograd.hpp"
#include "babygpt/ops/elementwise.hpp"
#include "babygpt/ops/activation.hpp"
#include "babygpt/ops/matmul.hpp"
#include "babygpt/ops/shape_ops.hpp"
#include "babygpt/ops/reduce.hpp"
#include "babygpt/ops/softmax.hpp"
#include "babygpt/ops/embedding.hpp"
#include "babygpt/ops/layer_norm.hpp"
#include "babygpt/ops/loss.hpp"
#include "babygpt/ops/dropout.hpp"
#include "babygpt/gradcheck.hpp"
