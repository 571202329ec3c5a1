#pragma once
// The affine map of Linear (core op): one GEMM with the bias, and optionally a following ReLU,
// fused in, with its backward.

#include <lazynn/tensor.hpp>

namespace lazynn::ops {

/// x @ weight^T + bias. Shapes: input [*, in], weight [out, in], bias [out] -> [*, out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());
/// relu(linear(input, weight, bias)) in one pass and one autograd node: what Sequential runs for
/// a Linear followed by a ReLU. Shapes as linear.
Tensor linear_relu(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());

}  // namespace lazynn::ops
