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
/// otherwise it uses `mean` / `var` ([C] each). weight and bias ([C]) may be undefined.
/// Shapes: input [N, C, *] -> the same
Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                  bool use_batch, double eps, bool relu, std::vector<double>& batch_mean,
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
