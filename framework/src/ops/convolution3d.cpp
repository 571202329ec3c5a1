// 3-D convolutions. float32 runs on oneDNN's 3-D primitives (conv_onednn.hpp). float64 is composed
// from the 2-D im2col + GEMM kernels: a 3-D kernel is kD 2-D kernels, one per depth tap, each applied
// to the depth slices it touches with depth folded into the batch. Every step is a differentiable op,
// so the backward comes from the 2-D kernels' backward.
#include "ops/conv_onednn.hpp"
#include "ops/float16_route.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autocast.hpp>
#include <lazynn/error.hpp>
#include <lazynn/ops/convolution.hpp>

namespace lazynn::ops {
namespace {

/// [N, C, D, H, W] -> [N*D, C, H, W]
Tensor fold_depth(const Tensor& x) {
    return x.permute({0, 2, 1, 3, 4}).reshape({x.size(0) * x.size(2), x.size(1), x.size(3), x.size(4)});
}

/// [N*D, C, H, W] -> [N, C, D, H, W]
Tensor unfold_depth(const Tensor& y, std::int64_t n, std::int64_t d) {
    return y.reshape({n, d, y.size(1), y.size(2), y.size(3)}).permute({0, 2, 1, 3, 4});
}

void check_input(const Tensor& input, const Tensor& weight, const char* op) {
    if (input.dim() != 5)
        throw ShapeError(std::string(op) + ": expected a 5-D input [N, C, D, H, W], got " +
                         shape_to_list(input.shape()));
    if (weight.dim() != 5)
        throw ShapeError(std::string(op) + ": expected a 5-D weight, got " + shape_to_list(weight.shape()));
    if (input.dtype() != weight.dtype()) {
        throw DtypeError(std::string(op) + ": input (" + dtype_name(input.dtype()) + ") and weight (" +
                         dtype_name(weight.dtype()) + ") must have the same dtype");
    }
}

/// The oneDNN description of a 3-D convolution with input [N, C, in...] and weight [O, C/groups, k...].
/// `pad_begin` is the padding before each spatial dim; the padding after follows from the output size.
detail::ConvProblem conv3d_problem(const Shape& input, const Shape& weight, std::int64_t groups,
                                   std::array<std::int64_t, 3> out, std::array<std::int64_t, 3> stride,
                                   std::array<std::int64_t, 3> pad_begin, std::array<std::int64_t, 3> dilation) {
    detail::ConvProblem p;
    p.spatial = 3;
    p.n = input[0], p.c = input[1], p.o = weight[0], p.groups = groups;
    p.in = {input[2], input[3], input[4]}, p.kernel = {weight[2], weight[3], weight[4]}, p.out = out;
    p.stride = stride, p.dilation = dilation, p.pad_begin = pad_begin;
    for (std::size_t d = 0; d < 3; ++d) {
        p.pad_end[d] = (out[d] - 1) * stride[d] + dilation[d] * (p.kernel[d] - 1) + 1 - p.in[d] - pad_begin[d];
    }
    return p;
}

}  // namespace

Tensor conv3d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 3> stride,
              std::array<std::int64_t, 6> padding, std::array<std::int64_t, 3> dilation, std::int64_t groups) {
    if (autocast::LowerPrecisionRegion lower; lower.active())
        return conv3d(lower(input), lower(weight), lower(bias), stride, padding, dilation, groups);
    if (const Dtype half = detail::float16_to_widen({&input, &weight, &bias}); half != kFloat32) {
        using lazynn::detail::widened;
        return conv3d(widened(input), widened(weight), widened(bias), stride, padding, dilation, groups).to(half);
    }
    check_input(input, weight, "conv3d");
    check_conv_bias(weight, bias, groups, false, "conv3d");
    if (detail::runs_on_onednn(input.dtype())) {
        if (input.size(1) != weight.size(1) * groups) {
            throw ShapeError("conv3d: expected input " + shape_to_list(input.shape()) + " to have " +
                             std::to_string(weight.size(1) * groups) + " channels, but got " +
                             std::to_string(input.size(1)) + " channels instead (weight " +
                             shape_to_list(weight.shape()) + ", groups " + std::to_string(groups) + ")");
        }
        std::array<std::int64_t, 3> out{};
        for (std::size_t d = 0; d < 3; ++d) {
            const std::int64_t span = input.size(static_cast<std::int64_t>(d) + 2) + padding[2 * d] +
                                      padding[2 * d + 1] -
                                      dilation[d] * (weight.size(static_cast<std::int64_t>(d) + 2) - 1) - 1;
            if (span < 0) {
                throw ShapeError("conv3d: calculated output size is less than one: the padded input " +
                                 shape_to_list(input.shape()) + " is smaller than the dilated kernel " +
                                 shape_to_list(weight.shape()));
            }
            out[d] = span / stride[d] + 1;
        }
        return detail::convolution_onednn(input, weight, bias,
                                          conv3d_problem(input.shape(), weight.shape(), groups, out, stride,
                                                         {padding[0], padding[2], padding[4]}, dilation),
                                          false);
    }
    // Depth padding is applied here; height and width padding go to the 2-D kernel.
    const Tensor x = (padding[0] || padding[1]) ? pad(input, {0, 0, 0, 0, padding[0], padding[1]}) : input;
    const std::int64_t n = x.size(0), depth = x.size(2), taps = weight.size(2);
    const std::int64_t out_depth = (depth - dilation[0] * (taps - 1) - 1) / stride[0] + 1;
    if (depth - dilation[0] * (taps - 1) - 1 < 0) {
        throw ShapeError("conv3d: calculated output depth is less than one: padded input depth " +
                         std::to_string(depth) + " is smaller than the dilated kernel depth " +
                         std::to_string(dilation[0] * (taps - 1) + 1));
    }
    Tensor sum;
    for (std::int64_t kd = 0; kd < taps; ++kd) {
        const std::int64_t first = kd * dilation[0];
        const Tensor slices =
            x.slice(2, first, first + (out_depth - 1) * stride[0] + 1, stride[0]);  // [N, C, D', H, W]
        const Tensor y = conv2d(fold_depth(slices), weight.select(2, kd), Tensor(), {stride[1], stride[2]},
                                {padding[2], padding[3], padding[4], padding[5]}, {dilation[1], dilation[2]}, groups);
        sum = sum.defined() ? sum + y : y;
    }
    Tensor out = unfold_depth(sum, n, out_depth);
    if (bias.defined()) out = out + bias.reshape({1, -1, 1, 1, 1});
    return out;
}

Tensor conv_transpose3d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        std::array<std::int64_t, 3> stride, std::array<std::int64_t, 3> padding,
                        std::array<std::int64_t, 3> output_padding, std::array<std::int64_t, 3> dilation,
                        std::int64_t groups) {
    // PyTorch 1.13's CPU autocast runs transposed convolutions in float32.
    if (autocast::Float32Region fp32; fp32.active()) {
        return conv_transpose3d(fp32(input), fp32(weight), fp32(bias), stride, padding, output_padding, dilation,
                                groups);
    }
    if (const Dtype half = detail::float16_to_widen({&input, &weight, &bias}); half != kFloat32) {
        using lazynn::detail::widened;
        return conv_transpose3d(widened(input), widened(weight), widened(bias), stride, padding, output_padding,
                                dilation, groups)
            .to(half);
    }
    check_input(input, weight, "conv_transpose3d");
    check_conv_bias(weight, bias, groups, true, "conv_transpose3d");
    const std::int64_t n = input.size(0), depth = input.size(2), taps = weight.size(2);
    // Full depth before cropping the padding: every input slice d lands at d*stride + kd*dilation.
    const std::int64_t full = (depth - 1) * stride[0] + dilation[0] * (taps - 1) + 1 + output_padding[0];
    const std::int64_t out_depth = full - 2 * padding[0];
    if (out_depth <= 0) {
        throw ShapeError("conv_transpose3d: calculated output depth " + std::to_string(out_depth) +
                         " is less than one");
    }
    if (detail::runs_on_onednn(input.dtype())) {
        if (input.size(1) != weight.size(0)) {
            throw ShapeError("conv_transpose3d: Given transposed=1, weight of size " + shape_to_list(weight.shape()) +
                             ", expected input" + shape_to_list(input.shape()) + " to have " +
                             std::to_string(weight.size(0)) + " channels, but got " + std::to_string(input.size(1)) +
                             " channels instead");
        }
        // The adjoint convolution: its input is this op's output, its output this op's input.
        Shape adjoint_input{input.size(0), weight.size(1) * groups, 0, 0, 0};
        std::array<std::int64_t, 3> adjoint_out{};
        for (std::size_t d = 0; d < 3; ++d) {
            const auto dim = static_cast<std::int64_t>(d) + 2;
            adjoint_input[d + 2] = (input.size(dim) - 1) * stride[d] - 2 * padding[d] +
                                   dilation[d] * (weight.size(dim) - 1) + output_padding[d] + 1;
            if (adjoint_input[d + 2] <= 0) {
                throw ShapeError("conv_transpose3d: the output size would be non-positive for input " +
                                 shape_to_list(input.shape()));
            }
            adjoint_out[d] = input.size(dim);
        }
        const detail::ConvProblem p =
            conv3d_problem(adjoint_input, weight.shape(), groups, adjoint_out, stride, padding, dilation);
        return detail::convolution_transpose_onednn(input, weight, bias, p);
    }
    const Tensor folded = fold_depth(input);
    Tensor sum;
    for (std::int64_t kd = 0; kd < taps; ++kd) {
        Tensor y =
            conv_transpose2d(folded, weight.select(2, kd), Tensor(), {stride[1], stride[2]}, {padding[1], padding[2]},
                             {output_padding[1], output_padding[2]}, {dilation[1], dilation[2]}, groups);
        y = y.reshape({n, depth, y.size(1), y.size(2), y.size(3)});  // [N, D, C_out, H', W']
        if (stride[0] > 1) {  // interleave stride-1 empty slices after each input slice
            Shape spread = y.shape();
            spread.insert(spread.begin() + 2, 1);
            Shape gap = spread;
            gap[2] = stride[0] - 1;
            y = cat({y.reshape(spread), zeros(gap, y.dtype())}, 2)
                    .reshape({n, depth * stride[0], y.size(2), y.size(3), y.size(4)});
            y = y.narrow(1, 0, (depth - 1) * stride[0] + 1);
        }
        std::vector<Tensor> parts;
        const std::int64_t before = kd * dilation[0], after = full - before - y.size(1);
        Shape filler = y.shape();
        if (before > 0) {
            filler[1] = before;
            parts.push_back(zeros(filler, y.dtype()));
        }
        parts.push_back(y);
        if (after > 0) {
            filler[1] = after;
            parts.push_back(zeros(filler, y.dtype()));
        }
        const Tensor placed = parts.size() == 1 ? y : cat(parts, 1);
        sum = sum.defined() ? sum + placed : placed;
    }
    Tensor out = sum.narrow(1, padding[0], out_depth).permute({0, 2, 1, 3, 4});
    if (bias.defined()) out = out + bias.reshape({1, -1, 1, 1, 1});
    return out;
}

}  // namespace lazynn::ops
