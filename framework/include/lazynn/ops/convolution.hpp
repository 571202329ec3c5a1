#pragma once
// Convolutions with their backward (core ops): float32 on oneDNN primitives, float64 as im2col + GEMM.
// nn::functional re-exports these under PyTorch's names; the layers in lazynn::nn call them.

#include <lazynn/tensor.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace lazynn::ops {

/// 2-D convolution with zero padding (begin/end per dim, so "same" works for even kernels).
/// Shapes: input [N, C, H, W], weight [O, C/groups, kH, kW], bias [O] -> [N, O, H', W']
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 2> stride,
              std::array<std::int64_t, 4> padding /* top, bottom, left, right */, std::array<std::int64_t, 2> dilation,
              std::int64_t groups);
/// relu(conv2d(...)) in one pass and one autograd node: what Sequential runs for a Conv1d/Conv2d
/// followed by a ReLU. Shapes as conv2d.
Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 2> stride,
                   std::array<std::int64_t, 4> padding, std::array<std::int64_t, 2> dilation, std::int64_t groups);
/// The adjoint of conv2d (a "deconvolution").
/// Shapes: input [N, C_in, H, W], weight [C_in, C_out/groups, kH, kW], bias [C_out] ->
///         [N, C_out, (H-1)*stride - 2*padding + dilation*(k-1) + output_padding + 1, ...]
Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> padding,
                        std::array<std::int64_t, 2> output_padding, std::array<std::int64_t, 2> dilation,
                        std::int64_t groups);
/// 3-D convolution with zero padding (begin/end per dim: front, back, top, bottom, left, right).
/// Shapes: input [N, C, D, H, W], weight [O, C/groups, kD, kH, kW], bias [O] -> [N, O, D', H', W']
Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 3> stride,
              std::array<std::int64_t, 6> padding, std::array<std::int64_t, 3> dilation, std::int64_t groups);
/// The adjoint of conv3d.
/// Shapes: input [N, C_in, D, H, W], weight [C_in, C_out/groups, kD, kH, kW], bias [C_out] -> [N, C_out, D', H', W']
Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        std::array<std::int64_t, 3> stride, std::array<std::int64_t, 3> padding,
                        std::array<std::int64_t, 3> output_padding, std::array<std::int64_t, 3> dilation,
                        std::int64_t groups);
/// Pads the last `pads.size()/2` dims (PyTorch's F.pad order: last dim first, begin then end)
/// with "constant" (value), "reflect", "replicate" or "circular".
Tensor pad(const Tensor& input, const std::vector<std::int64_t>& pads, const std::string& mode = "constant",
           double value = 0.0);

/// Sliding local blocks of a batched image, flattened into columns (PyTorch's F.unfold, im2col):
/// column l holds the kernel_size window at block l, channel-major ((c * kH + i) * kW + j), with
/// zero padding. Floating dtypes (16-bit ones compute in float32 and round once).
/// Shapes: input [N, C, H, W] or [C, H, W] -> [N, C * kH * kW, L] or [C * kH * kW, L], where
///         L = prod over H, W of (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1 >= 1.
Tensor unfold(const Tensor& input, std::array<std::int64_t, 2> kernel_size, std::array<std::int64_t, 2> dilation,
              std::array<std::int64_t, 2> padding, std::array<std::int64_t, 2> stride);
/// The adjoint of unfold (PyTorch's F.fold, col2im): sums every column back into its window of an
/// image of output_size, overlapping windows added, the padding dropped.
/// Shapes: input [N, C * kH * kW, L] or [C * kH * kW, L] -> [N, C, output_size] or [C, output_size];
///         L must equal the number of blocks unfold would give for output_size.
Tensor fold(const Tensor& input, std::array<std::int64_t, 2> output_size, std::array<std::int64_t, 2> kernel_size,
            std::array<std::int64_t, 2> dilation, std::array<std::int64_t, 2> padding,
            std::array<std::int64_t, 2> stride);

/// PyTorch's bias check: an undefined bias, or a 1-D one with one value per output channel
/// (weight.size(0), or weight.size(1) * groups when `transposed`). A short bias would be read
/// past its end by the kernels, a long one silently accepted. Throws RuntimeError naming `op`.
void check_conv_bias(const Tensor& weight, const Tensor& bias, std::int64_t groups, bool transposed, const char* op);

}  // namespace lazynn::ops
