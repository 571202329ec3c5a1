#pragma once
// Tensor-level entry points of the SIMD math kernels (internal), for Tensor's unary ops.

#include "lazynn/tensor.hpp"
#include "simd/kernels.hpp"

namespace lazynn::simd {

/// f(t) elementwise, in float32 or float64 (int64 input computes in float32, as kernels::unary
/// does with a floating result), split across threads for large tensors; no autograd.
Tensor math(const Tensor& t, const char* name, MathFunction f);

/// PyTorch's softplus(t, beta, threshold) elementwise, like math(); no autograd.
Tensor softplus(const Tensor& t, double beta, double threshold);

}  // namespace lazynn::simd
