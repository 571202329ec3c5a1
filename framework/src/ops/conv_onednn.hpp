#pragma once
// float32 and bfloat16 convolutions on oneDNN primitives (internal): forward (bias and ReLU fused), input gradient and
// weight gradient (bias gradient fused), for 1 to 3 spatial dims, grouped, strided, dilated and padded.
// The transposed convolution is the adjoint pair: its forward is the input gradient of the convolution
// it transposes, its input gradient that convolution's forward.
//
// Tensors are passed in PyTorch's contiguous layouts (N, C, spatial...; weights O, C/groups, k...);
// oneDNN picks its own blocked layouts and the reorders run here. Primitives are created once per
// problem and cached. Work is split over the batch across lazynn's threads (a forward with fewer
// samples than threads: over blocks of output channels), each oneDNN call single-threaded (ops/onednn.hpp, docs/design.md, decision 15). bfloat16 problems read and write
// bfloat16 activations and weights and accumulate in float32; their bias, weight and bias gradients are
// float32 (rounded once by the caller), so the partial sums over batch chunks add up in float32.

#include <lazynn/tensor.hpp>

#include <array>
#include <cstdint>

namespace lazynn::ops::detail {

/// A convolution's sizes. `pad_end` is the padding after the last element of each spatial dim, as
/// PyTorch's asymmetric "same" padding and ConvTranspose's output_padding need.
struct ConvProblem {
    int spatial = 2;         // 1, 2 or 3
    Dtype dtype = kFloat32;  // of the activations and weights: kFloat32 or kBFloat16
    /// The input gradient (backward_data) is written in float32 whatever `dtype` is: a bfloat16 transposed
    /// convolution adds its bias to it before the one rounding.
    bool float32_input_gradient = false;
    std::int64_t n = 0, c = 0, o = 0, groups = 1;
    /// The channels of the tensor the output is written into, when the problem computes only `o` of
    /// them (a thread's block of output channels); 0: `o`, the output is contiguous.
    std::int64_t stored_output_channels = 0;
    std::array<std::int64_t, 3> in{}, kernel{}, out{}, stride{}, dilation{}, pad_begin{}, pad_end{};

    /// Elements of one sample's input / output, and of the weight.
    std::int64_t input_numel() const;
    std::int64_t output_numel() const;
    std::int64_t weight_numel() const;
};

// The raw passes: x, w, y, gy and gx hold p.dtype elements (gx float32 when p.float32_input_gradient);
// bias, gw and gb are float32.

/// y[n, o, out...] = conv(x, w) + bias (nullptr: none), then max(y, 0) when relu.
void onednn_conv_forward(const ConvProblem& p, const void* x, const void* w, const float* bias, bool relu, void* y);

/// gx[n, c, in...] = the gradient of the convolution's input for gy[n, o, out...] (overwrites gx).
void onednn_conv_backward_data(const ConvProblem& p, const void* gy, const void* w, void* gx);

/// gw = the weight gradient, gb = the bias gradient (nullptr: not wanted); both overwritten.
void onednn_conv_backward_weights(const ConvProblem& p, const void* x, const void* gy, float* gw, float* gb);

/// Both: gx as onednn_conv_backward_data and gw, gb as onednn_conv_backward_weights, in one pass over the
/// batch in which each chunk's gy is reordered once for both primitives.
void onednn_conv_backward(const ConvProblem& p, const void* x, const void* gy, const void* w, void* gx, float* gw,
                          float* gb);

/// A float32 or bfloat16 convolution (+ ReLU) of any spatial rank, differentiable; p.dtype is taken
/// from the input, whose dtype the weight shares.
/// Shapes: input [N, C, in...], weight [O, C/groups, k...], bias [O] or undefined -> [N, O, out...].
Tensor convolution_onednn(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvProblem& p,
                          bool relu);

/// A float32 or bfloat16 transposed convolution, differentiable: the adjoint of the convolution `p` describes, whose
/// input is this op's output. Shapes: input [N, O, out...], weight [O, C/groups, k...], bias [C] -> [N, C, in...].
Tensor convolution_transpose_onednn(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const ConvProblem& p);

}  // namespace lazynn::ops::detail
