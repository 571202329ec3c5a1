#pragma once
// Max, average and adaptive average pooling with their backward (core ops). 1-D pooling runs as
// 2-D with a unit height; nn::functional re-exports these under PyTorch's names.

#include <lazynn/tensor.hpp>

#include <array>
#include <cstdint>

namespace lazynn::ops {

/// Shapes: input [N, C, H, W] -> values and int64 indices (flat h*W + w, as PyTorch) [N, C, H', W']
ValuesIndices max_pool2d_with_indices(const Tensor& input, std::array<std::int64_t, 2> kernel,
                                      std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> padding,
                                      std::array<std::int64_t, 2> dilation, bool ceil_mode);
/// Shapes: input [N, C, H, W] -> [N, C, H', W'] (the values of max_pool2d_with_indices; 2x2
/// windows with stride 2 run a faster kernel that keeps no indices)
Tensor max_pool2d(const Tensor& input, std::array<std::int64_t, 2> kernel, std::array<std::int64_t, 2> stride,
                  std::array<std::int64_t, 2> padding = {0, 0}, std::array<std::int64_t, 2> dilation = {1, 1},
                  bool ceil_mode = false);
/// Shapes: input [N, C, H, W] -> [N, C, H', W']
Tensor avg_pool2d(const Tensor& input, std::array<std::int64_t, 2> kernel, std::array<std::int64_t, 2> stride,
                  std::array<std::int64_t, 2> padding, bool ceil_mode, bool count_include_pad,
                  std::int64_t divisor_override = 0);
/// Shapes: input [N, C, H, W] -> [N, C, *output_size]
Tensor adaptive_avg_pool2d(const Tensor& input, std::array<std::int64_t, 2> output_size);
/// Shapes: input [N, C, D, H, W] -> values and int64 indices (flat d*H*W + h*W + w) [N, C, D', H', W']
ValuesIndices max_pool3d_with_indices(const Tensor& input, std::array<std::int64_t, 3> kernel,
                                      std::array<std::int64_t, 3> stride, std::array<std::int64_t, 3> padding,
                                      std::array<std::int64_t, 3> dilation, bool ceil_mode);
/// Shapes: input [N, C, D, H, W] -> [N, C, D', H', W']
Tensor avg_pool3d(const Tensor& input, std::array<std::int64_t, 3> kernel, std::array<std::int64_t, 3> stride,
                  std::array<std::int64_t, 3> padding, bool ceil_mode, bool count_include_pad,
                  std::int64_t divisor_override = 0);
/// Shapes: input [N, C, D, H, W] -> [N, C, *output_size]
Tensor adaptive_avg_pool3d(const Tensor& input, std::array<std::int64_t, 3> output_size);

}  // namespace lazynn::ops
