#pragma once
// Normalisation ops with their backward (core ops): batch normalisation (which BatchNorm and
// InstanceNorm run on), layer and group normalisation.

#include <lazynn/tensor.hpp>

#include <cstdint>
#include <vector>

namespace lazynn::ops {

/// Batch normalisation over [N, C, S] in one fused kernel, split over channels, followed by a
/// ReLU when `relu` (in the same pass over each channel chunk, and masked in the same backward:
/// training a conv-BN-ReLU stack then costs no separate ReLU passes). With `use_batch` it
/// normalises with the batch statistics and returns the per-channel mean and biased variance
/// through `batch_mean` / `batch_var` (updating running statistics is the caller's business);
/// otherwise it uses `mean` / `var` ([C] each). weight and bias ([C]) may be undefined. A bfloat16
/// or float16 input computes in float32 (with float32 or 16-bit parameters, PyTorch's mixed batch
/// norm) and rounds its output once; its gradients come back in each input's own dtype.
/// Shapes: input [N, C, *] -> the same
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                  bool use_batch, double eps, bool relu, std::vector<double>& batch_mean,
                  std::vector<double>& batch_var);

/// max_pool2d(relu(batch_norm(input)), 2) with 2x2 windows, stride 2, no padding: batch_norm's
/// arguments and statistics, and its passes, with the ReLU and the pooling applied in registers.
/// Neither the normalised map nor the pooling's indices are stored: the backward recomputes each
/// window from the saved input (BatchNorm2d runs it for Sequential's BatchNorm2d, ReLU, MaxPool2d(2)).
/// Equal to the three ops up to the rounding of the normalisation (one fused multiply-add).
/// requires: input floating-point [N, C, H, W], N, C >= 1, H, W >= 2 (ValueError otherwise); 16-bit
/// inputs compute in float32 as batch_norm's do.
/// Shapes: input [N, C, H, W] -> [N, C, H / 2, W / 2]
Tensor batch_norm_relu_max_pool2x2(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                                   const Tensor& var, bool use_batch, double eps, std::vector<double>& batch_mean,
                                   std::vector<double>& batch_var);

/// PyTorch's F.layer_norm: standardises over the trailing dims `normalized_shape` (biased
/// variance), then applies the optional elementwise weight and bias of that shape.
/// Shapes: input [*, *normalized_shape] -> the same
Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight = {},
                  const Tensor& bias = {}, double eps = 1e-5);
/// PyTorch's F.group_norm: standardises each group of num_channels / num_groups channels of a
/// sample, then applies the optional per-channel weight and bias.
/// Shapes: input [N, C, *] -> the same
Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight = {}, const Tensor& bias = {},
                  double eps = 1e-5);

}  // namespace lazynn::ops
