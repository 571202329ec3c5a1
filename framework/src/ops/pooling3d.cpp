// 3-D pooling composed from the 2-D kernels. Max and average pooling over a box are separable:
// pool height and width of every depth slice first, then pool along depth. The per-dimension
// output sizes, ceil_mode, padding and (for averages) the divisors are per-dimension rules, so the
// composition gives PyTorch's numbers; max pooling also keeps PyTorch's first-maximum tie rule
// because both passes scan in (d, h, w) order. The arguments are checked here, in 3-D terms, before
// any pass runs: a pass's own messages would name its [N, C*D, H, W] or [N, C*H'*W', 1, D] view.
#include "ops/pooling_size.hpp"

#include <lazynn/autocast.hpp>
#include <lazynn/error.hpp>
#include <lazynn/ops/pooling.hpp>

#include <algorithm>

namespace lazynn::ops {
namespace {

using Sizes3 = std::array<std::int64_t, 3>;

void check_5d(const Tensor& input, const char* op) {
    if (input.dim() != 5)
        throw ShapeError(std::string(op) + ": expected input [N, C, D, H, W], got " + shape_to_list(input.shape()));
}

/// "T: a H: b W: c" with the given prefix on each letter (PyTorch's way of printing 3-D sizes).
std::string thw(const char* prefix, const Sizes3& v) {
    const std::string p(prefix);
    return p + "T: " + std::to_string(v[0]) + " " + p + "H: " + std::to_string(v[1]) + " " + p +
           "W: " + std::to_string(v[2]);
}

/// PyTorch's pool3d_shape_check: the arguments, then (avg_pool3d only) the unpadded input against the
/// kernel, then the output size. Messages as PyTorch 1.13's, prefixed with `op`.
void check_pool3d(const Tensor& input, const Sizes3& kernel, const Sizes3& stride, const Sizes3& padding,
                  const Sizes3& dilation, bool ceil_mode, bool avg, const char* op) {
    check_5d(input, op);
    const std::string name(op);
    const auto any_below = [](const Sizes3& v, std::int64_t least) {
        return std::any_of(v.begin(), v.end(), [&](std::int64_t x) { return x < least; });
    };
    if (any_below(kernel, 1))
        throw RuntimeError(name + ": kernel size should be greater than zero, but got " + thw("k", kernel));
    if (any_below(stride, 1)) {
        throw RuntimeError(name + ": stride should be greater than zero, but got dT: " + std::to_string(stride[0]) +
                           " dH: " + std::to_string(stride[1]) + " dW: " + std::to_string(stride[2]));
    }
    if (any_below(dilation, 1))
        throw RuntimeError(name + ": dilation should be greater than zero, but got " + thw("dilation", dilation));
    if (any_below(padding, 0)) {
        throw RuntimeError(name + ": pad must be non-negative, but got pad: " +
                           std::to_string(*std::min_element(padding.begin(), padding.end())));
    }
    for (std::size_t i = 0; i < 3; ++i) {
        if (padding[i] * 2 > kernel[i]) {
            throw ValueError(name + ": pad should be at most half of kernel size, but got pad=" +
                             std::to_string(padding[i]) + " and kernel_size=" + std::to_string(kernel[i]));
        }
    }
    const Sizes3 in{input.size(2), input.size(3), input.size(4)};
    if (avg && (in[0] < kernel[0] || in[1] < kernel[1] || in[2] < kernel[2])) {
        throw ShapeError(name + ": input image (" + thw("", in) + ") smaller than kernel size (" + thw("k", kernel) +
                         ")");
    }
    Sizes3 out{};
    for (std::size_t i = 0; i < 3; ++i)
        out[i] = detail::pooled_size(in[i], kernel[i], stride[i], padding[i], dilation[i], ceil_mode);
    if (any_below(out, 1)) {
        const std::string c = std::to_string(input.size(1));
        const auto dims = [&](const Sizes3& v) {
            return c + "x" + std::to_string(std::max<std::int64_t>(v[0], 0)) + "x" +
                   std::to_string(std::max<std::int64_t>(v[1], 0)) + "x" +
                   std::to_string(std::max<std::int64_t>(v[2], 0));
        };
        throw ShapeError(name + ": Given input size: (" + dims(in) + "). Calculated output size: (" + dims(out) +
                         "). Output size is too small");
    }
}

/// [N, C, D, H, W] -> [N, C*D, H, W]: every depth slice becomes a channel.
Tensor slices_as_channels(const Tensor& x) {
    return x.reshape({x.size(0), x.size(1) * x.size(2), x.size(3), x.size(4)});
}

/// [N, C, D, H', W'] -> [N, C*H'*W', 1, D]: depth becomes the width of a unit-height image.
Tensor depth_as_width(const Tensor& x) {
    return x.permute({0, 1, 3, 4, 2}).reshape({x.size(0), x.size(1) * x.size(3) * x.size(4), 1, x.size(2)});
}

/// Inverse of depth_as_width for a pooled depth D'.
Tensor width_as_depth(const Tensor& y, const Shape& planes /* N, C, H', W' */) {
    return y.reshape({planes[0], planes[1], planes[2], planes[3], y.size(3)}).permute({0, 1, 4, 2, 3});
}

}  // namespace

ValuesIndices max_pool3d_with_indices(const Tensor& input, std::array<std::int64_t, 3> kernel,
                                      std::array<std::int64_t, 3> stride, std::array<std::int64_t, 3> padding,
                                      std::array<std::int64_t, 3> dilation, bool ceil_mode) {
    // PyTorch 1.13's CPU autocast runs 3-D pooling in float32.
    if (autocast::Float32Region fp32; fp32.active())
        return max_pool3d_with_indices(fp32(input), kernel, stride, padding, dilation, ceil_mode);
    check_pool3d(input, kernel, stride, padding, dilation, ceil_mode, /*avg=*/false, "max_pool3d");
    const std::int64_t n = input.size(0), c = input.size(1), depth = input.size(2), h = input.size(3),
                       w = input.size(4);
    const ValuesIndices planar =
        max_pool2d_with_indices(slices_as_channels(input), {kernel[1], kernel[2]}, {stride[1], stride[2]},
                                {padding[1], padding[2]}, {dilation[1], dilation[2]}, ceil_mode);
    const std::int64_t ho = planar.values.size(2), wo = planar.values.size(3);
    const Tensor planar_values = planar.values.reshape({n, c, depth, ho, wo});
    const ValuesIndices deep = max_pool2d_with_indices(depth_as_width(planar_values), {1, kernel[0]}, {1, stride[0]},
                                                       {0, padding[0]}, {1, dilation[0]}, ceil_mode);
    const Shape planes{n, c, ho, wo};
    const Tensor values = width_as_depth(deep.values, planes);
    // Flat index d*H*W + (h*W + w): the depth pass chose d, the planar pass chose h*W + w in that slice.
    const Tensor chosen_depth = width_as_depth(deep.indices, planes).contiguous();
    const Tensor planar_index = planar.indices.reshape({n, c, depth, ho, wo}).contiguous();
    const std::int64_t dout = chosen_depth.size(2), plane = ho * wo;
    Tensor indices = empty(chosen_depth.shape(), kInt64);
    const std::int64_t* d_of = chosen_depth.data_ptr<std::int64_t>();
    const std::int64_t* hw_of = planar_index.data_ptr<std::int64_t>();
    std::int64_t* out = indices.data_ptr<std::int64_t>();
    for (std::int64_t nc = 0; nc < n * c; ++nc) {
        for (std::int64_t od = 0; od < dout; ++od) {
            for (std::int64_t e = 0; e < plane; ++e) {
                const std::int64_t at = (nc * dout + od) * plane + e;
                const std::int64_t d = d_of[at];
                out[at] = d * h * w + hw_of[(nc * depth + d) * plane + e];
            }
        }
    }
    return {values, indices};
}

Tensor avg_pool3d(const Tensor& input, std::array<std::int64_t, 3> kernel, std::array<std::int64_t, 3> stride,
                  std::array<std::int64_t, 3> padding, bool ceil_mode, bool count_include_pad,
                  std::int64_t divisor_override) {
    if (autocast::Float32Region fp32; fp32.active())
        return avg_pool3d(fp32(input), kernel, stride, padding, ceil_mode, count_include_pad, divisor_override);
    check_pool3d(input, kernel, stride, padding, {1, 1, 1}, ceil_mode, /*avg=*/true, "avg_pool3d");
    // With divisor_override both passes sum (divisor 1) and the total is divided once.
    const std::int64_t per_pass_divisor = divisor_override ? 1 : 0;
    const std::int64_t n = input.size(0), c = input.size(1), depth = input.size(2);
    const Tensor planar = avg_pool2d(slices_as_channels(input), {kernel[1], kernel[2]}, {stride[1], stride[2]},
                                     {padding[1], padding[2]}, ceil_mode, count_include_pad, per_pass_divisor);
    const std::int64_t ho = planar.size(2), wo = planar.size(3);
    const Tensor deep = avg_pool2d(depth_as_width(planar.reshape({n, c, depth, ho, wo})), {1, kernel[0]},
                                   {1, stride[0]}, {0, padding[0]}, ceil_mode, count_include_pad, per_pass_divisor);
    const Tensor out = width_as_depth(deep, {n, c, ho, wo});
    return divisor_override ? out / static_cast<double>(divisor_override) : out;
}

Tensor adaptive_avg_pool3d(const Tensor& input, std::array<std::int64_t, 3> output_size) {
    check_5d(input, "adaptive_avg_pool3d");
    if (!is_floating(input.dtype())) {  // PyTorch has no integer kernel either
        throw DtypeError("adaptive_avg_pool3d: expected a floating point input, got " + dtype_name(input.dtype()) +
                         "; convert with .to(kFloat32)");
    }
    const std::int64_t n = input.size(0), c = input.size(1), depth = input.size(2);
    const Tensor planar = adaptive_avg_pool2d(slices_as_channels(input), {output_size[1], output_size[2]});
    const std::int64_t ho = planar.size(2), wo = planar.size(3);
    const Tensor deep = adaptive_avg_pool2d(depth_as_width(planar.reshape({n, c, depth, ho, wo})), {1, output_size[0]});
    return width_as_depth(deep, {n, c, ho, wo});
}

}  // namespace lazynn::ops
