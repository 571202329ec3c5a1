#pragma once
// float32 convolutions on oneDNN primitives (internal): forward (bias and ReLU fused), input gradient and
// weight gradient (bias gradient fused), for 1 to 3 spatial dims, grouped, strided, dilated and padded.
// The transposed convolution is the adjoint pair: its forward is the input gradient of the convolution
// it transposes, its input gradient that convolution's forward.
//
// Tensors are passed in PyTorch's contiguous layouts (N, C, spatial...; weights O, C/groups, k...);
// oneDNN picks its own blocked layouts and the reorders run here. Primitives are created once per
// problem and cached. Work is split over the batch across lazynn's threads, each oneDNN call
// single-threaded (ops/onednn.hpp, docs/design.md, decision 15).

#include <lazynn/tensor.hpp>

#include <array>
#include <cstdint>

namespace lazynn::ops::detail {

/// A convolution's sizes. `pad_end` is the padding after the last element of each spatial dim, as
/// PyTorch's asymmetric "same" padding and ConvTranspose's output_padding need.
struct ConvProblem {
    int spatial = 2;  // 1, 2 or 3
    std::int64_t n = 0, c = 0, o = 0, groups = 1;
    std::array<std::int64_t, 3> in{}, kernel{}, out{}, stride{}, dilation{}, pad_begin{}, pad_end{};

    /// Elements of one sample's input / output, and of the weight.
    std::int64_t input_numel() const;
    std::int64_t output_numel() const;
    std::int64_t weight_numel() const;
};

/// y[n, o, out...] = conv(x, w) + bias (nullptr: none), then max(y, 0) when relu.
void onednn_conv_forward(const ConvProblem& p, const float* x, const float* w, const float* bias, bool relu, float* y);

/// gx[n, c, in...] = the gradient of the convolution's input for gy[n, o, out...] (overwrites gx).
void onednn_conv_backward_data(const ConvProblem& p, const float* gy, const float* w, float* gx);

/// gw = the weight gradient, gb = the bias gradient (nullptr: not wanted); both overwritten.
void onednn_conv_backward_weights(const ConvProblem& p, const float* x, const float* gy, float* gw, float* gb);

/// A float32 convolution (+ ReLU) of any spatial rank, differentiable.
/// Shapes: input [N, C, in...], weight [O, C/groups, k...], bias [O] or undefined -> [N, O, out...].
Tensor convolution_onednn(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvProblem& p,
                          bool relu);

/// A float32 transposed convolution, differentiable: the adjoint of the convolution `p` describes, whose
/// input is this op's output. Shapes: input [N, O, out...], weight [O, C/groups, k...], bias [C] -> [N, C, in...].
Tensor convolution_transpose_onednn(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const ConvProblem& p);

}  // namespace lazynn::ops::detail
