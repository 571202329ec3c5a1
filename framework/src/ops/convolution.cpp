// conv2d and conv_transpose2d: float32 on oneDNN's primitives (conv_onednn.hpp); float64 as im2col +
// GEMM, samples split across threads, with its backward (col2im); and padding by index gathering.
#include "autograd/function_node.hpp"
#include "ops/conv_graph.hpp"
#include "ops/conv_onednn.hpp"
#include "ops/float16_route.hpp"
#include "ops/fused_relu.hpp"
#include "ops/im2col.hpp"
#include "ops/gemm.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autocast.hpp>

#include <lazynn/error.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/ops/convolution.hpp>

#include <algorithm>
#include <mutex>
#include <tuple>

namespace lazynn::ops {
namespace {

using autograd::detail::BackwardInputs;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

using detail::col2im;
using detail::ConvGeometry;
using detail::im2col;
using kernels::gemm;

/// Sum of a row with eight independent accumulators, so the loop vectorises.
template <class T>
T row_sum(const T* row, std::int64_t length) {
    T lanes[8] = {};
    std::int64_t e = 0;
    for (; e + 8 <= length; e += 8) {
        for (int q = 0; q < 8; ++q) lanes[q] += row[e + q];
    }
    T total = 0;
    for (; e < length; ++e) total += row[e];
    for (T lane : lanes) total += lane;
    return total;
}

/// total += part, elementwise over two contiguous tensors of one shape.
template <class T>
void add_into(const Tensor& total, const Tensor& part) {
    T* t = total.impl().data<T>();
    const T* p = part.impl().data<T>();
    const std::int64_t n = total.numel();
    for (std::int64_t i = 0; i < n; ++i) t[i] += p[i];
}

/// Runs body(first_sample, end_sample) over the batch, split across lazynn's threads when there
/// are several samples: each chunk has its own column buffer and runs its GEMMs on its own thread,
/// which keeps every column buffer in that core's cache. A single sample runs on the caller, and
/// its GEMMs split across the threads instead.
template <class Body>
void over_batch(std::int64_t samples, Body&& body) {
    lazynn::detail::parallel_for(samples, 1, body);
}

/// The oneDNN description of a 2-D convolution; `padding` is {top, bottom, left, right}.
detail::ConvProblem conv2d_problem(const ConvGeometry& s, std::array<std::int64_t, 4> padding) {
    detail::ConvProblem p;
    p.spatial = 2;
    p.n = s.n, p.c = s.c, p.o = s.o, p.groups = s.groups;
    p.in = {s.h, s.w, 1}, p.kernel = {s.kh, s.kw, 1}, p.out = {s.oh, s.ow, 1};
    p.stride = {s.sh, s.sw, 1}, p.dilation = {s.dh, s.dw, 1};
    p.pad_begin = {padding[0], padding[2], 0};
    // oneDNN wants the padding that makes (in + begin + end - dilated kernel) / stride + 1 the output
    // size exactly: PyTorch's floor may leave input rows unused, which is a smaller (even negative) end.
    p.pad_end = {(s.oh - 1) * s.sh + s.dh * (s.kh - 1) + 1 - s.h - padding[0],
                 (s.ow - 1) * s.sw + s.dw * (s.kw - 1) + 1 - s.w - padding[2], 0};
    return p;
}

}  // namespace

namespace {

/// conv2d, followed by ReLU in the same pass when `relu`: each sample's output block gets its bias
/// and ReLU while it is still in cache, and the backward masks each sample's gradient block the
/// same way, with one autograd node and no intermediate tensor.
Tensor conv2d_then(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 2> stride,
                   std::array<std::int64_t, 4> padding, std::array<std::int64_t, 2> dilation, std::int64_t groups,
                   bool relu) {
    if (autocast::LowerPrecisionRegion lower; lower.active()) {
        return conv2d_then(lower(input), lower(weight), lower(bias), stride, padding, dilation, groups, relu);
    }
    if (const Dtype half = detail::float16_to_widen({&input, &weight, &bias}); half != kFloat32) {
        using lazynn::detail::widened;
        return conv2d_then(widened(input), widened(weight), widened(bias), stride, padding, dilation, groups, relu)
            .to(half);
    }
    if (input.dim() != 4) throw ShapeError("conv2d: expected input [N, C, H, W], got " + shape_to_list(input.shape()));
    if (weight.dim() != 4)
        throw ShapeError("conv2d: expected weight [O, C/groups, kH, kW], got " + shape_to_list(weight.shape()));
    check_conv_bias(weight, bias, groups, false, "conv2d");
    if (input.dtype() != weight.dtype()) {
        throw DtypeError("conv2d: input (" + dtype_name(input.dtype()) + ") and weight (" + dtype_name(weight.dtype()) +
                         ") must have the same dtype");
    }
    ConvGeometry s{};
    s.n = input.size(0), s.c = input.size(1), s.h = input.size(2), s.w = input.size(3);
    s.o = weight.size(0), s.kh = weight.size(2), s.kw = weight.size(3);
    s.sh = stride[0], s.sw = stride[1], s.pt = padding[0], s.pl = padding[2], s.dh = dilation[0], s.dw = dilation[1],
    s.groups = groups;
    if (s.c != weight.size(1) * groups) {
        throw ShapeError(
            "conv2d: expected input[" + std::to_string(s.n) + ", " + std::to_string(weight.size(1) * groups) + ", " +
            std::to_string(s.h) + ", " + std::to_string(s.w) + "] to have " + std::to_string(weight.size(1) * groups) +
            " channels, but got " + std::to_string(s.c) + " channels instead (input " + shape_to_list(input.shape()) +
            ", weight " + shape_to_list(weight.shape()) + ", groups " + std::to_string(groups) + ")");
    }
    s.oh = (s.h + padding[0] + padding[1] - s.dh * (s.kh - 1) - 1) / s.sh + 1;
    s.ow = (s.w + padding[2] + padding[3] - s.dw * (s.kw - 1) - 1) / s.sw + 1;
    if (s.oh <= 0 || s.ow <= 0) {
        throw ShapeError("conv2d: the input " + shape_to_list(input.shape()) + " (padded by " +
                         std::to_string(padding[0] + padding[1]) + "x" + std::to_string(padding[2] + padding[3]) +
                         ") is smaller than the dilated kernel " + std::to_string(s.dh * (s.kh - 1) + 1) + "x" +
                         std::to_string(s.dw * (s.kw - 1) + 1));
    }
    if (detail::runs_on_onednn(input.dtype()))
        return detail::convolution_onednn(input, weight, bias, conv2d_problem(s, padding), relu);
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor w = lazynn::detail::contiguous_data(weight);
    Tensor out = lazynn::detail::empty_tensor({s.n, s.o, s.oh, s.ow}, input.dtype());
    visit_floating(input.dtype(), "conv2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xin = x.impl().data<T>();
        const T* wv = w.impl().data<T>();
        T* o = out.impl().data<T>();
        const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>();
        // Bias and the fused ReLU on one sample's output block, while it is in cache.
        auto finish_sample = [&](std::int64_t n) {
            if (!b.empty()) {
                for (std::int64_t oc = 0; oc < s.o; ++oc) {
                    T* row = o + (n * s.o + oc) * s.l();
                    const T bv = static_cast<T>(b[static_cast<std::size_t>(oc)]);
                    for (std::int64_t e = 0; e < s.l(); ++e) row[e] += bv;
                }
            }
            if (relu) detail::relu_span(o + n * s.o * s.l(), s.o * s.l());
        };
        over_batch(s.n, [&](std::int64_t first, std::int64_t last) {
            // The column buffer comes from the caching allocator: no fresh pages every call.
            Tensor cols_buffer = lazynn::detail::empty_tensor({s.k() * s.l()}, x.dtype());
            T* cols = cols_buffer.impl().data<T>();
            for (std::int64_t n = first; n < last; ++n) {
                for (std::int64_t g = 0; g < s.groups; ++g) {
                    im2col(s, xin, n, g, cols);
                    T* og = o + (n * s.o + g * s.og()) * s.l();
                    gemm<T>(false, false, s.og(), s.l(), s.k(), T(1), wv + g * s.og() * s.k(), s.k(), cols, s.l(), T(0),
                            og, s.l());
                }
                finish_sample(n);
            }
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gi = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
        record(
            out, relu ? "ReluBackward0" : "ConvolutionBackward0", {input, weight, bias},
            [s, sx = SavedTensor(x), sw = SavedTensor(w), so = relu ? SavedTensor(out) : SavedTensor(), relu, gi, gw,
             gb](const Tensor& g_in) {
                const Tensor go = lazynn::detail::contiguous_data(g_in);
                const Tensor xv = sx.unpack(), wv = sw.unpack(), yv = relu ? so.unpack() : Tensor();
                Tensor grad_input = gi ? zeros(xv.shape(), xv.dtype()) : Tensor();
                Tensor grad_weight = gw ? zeros(wv.shape(), wv.dtype()) : Tensor();
                Tensor grad_bias = gb ? zeros({s.o}, wv.dtype()) : Tensor();
                // Chunks keep private weight/bias gradients, added up afterwards in batch order so a run
                // is reproducible whichever thread finishes first.
                std::mutex merge;
                std::vector<std::tuple<std::int64_t, Tensor, Tensor>> partials;
                visit_floating(xv.dtype(), "conv2d_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* gv = go.impl().data<T>();
                    over_batch(s.n, [&](std::int64_t first, std::int64_t last) {
                        Tensor cols_buffer = lazynn::detail::empty_tensor({s.k() * s.l()}, xv.dtype());
                        T* cols = cols_buffer.impl().data<T>();
                        // The sample's gradient through the ReLU, when fused.
                        Tensor masked_buffer =
                            relu ? lazynn::detail::empty_tensor({s.o * s.l()}, xv.dtype()) : Tensor();
                        // Each chunk accumulates privately; one chunk (the serial case) writes the totals directly.
                        const bool whole = first == 0 && last == s.n;
                        Tensor local_weight = gw ? (whole ? grad_weight : zeros(wv.shape(), wv.dtype())) : Tensor();
                        Tensor local_bias = gb ? (whole ? grad_bias : zeros({s.o}, wv.dtype())) : Tensor();
                        for (std::int64_t n = first; n < last; ++n) {
                            const T* sample_grad = gv + n * s.o * s.l();
                            if (relu) {
                                T* masked = masked_buffer.impl().data<T>();
                                detail::relu_backward_span(sample_grad, yv.impl().data<T>() + n * s.o * s.l(), masked,
                                                           s.o * s.l());
                                sample_grad = masked;
                            }
                            for (std::int64_t g = 0; g < s.groups; ++g) {
                                const T* gout = sample_grad + g * s.og() * s.l();
                                if (gw) {
                                    im2col(s, xv.impl().data<T>(), n, g, cols);
                                    gemm<T>(false, true, s.og(), s.k(), s.l(), T(1), gout, s.l(), cols, s.l(), T(1),
                                            local_weight.impl().data<T>() + g * s.og() * s.k(), s.k());
                                }
                                if (gi) {
                                    gemm<T>(true, false, s.k(), s.l(), s.og(), T(1),
                                            wv.impl().data<T>() + g * s.og() * s.k(), s.k(), gout, s.l(), T(0), cols,
                                            s.l());
                                    col2im(s, cols, n, g, grad_input.impl().data<T>());
                                }
                            }
                            if (gb) {
                                T* gbv = local_bias.impl().data<T>();
                                for (std::int64_t oc = 0; oc < s.o; ++oc)
                                    gbv[oc] += row_sum(sample_grad + oc * s.l(), s.l());
                            }
                        }
                        if (whole) return;
                        std::lock_guard lock(merge);
                        partials.emplace_back(first, local_weight, local_bias);
                    });
                    std::sort(partials.begin(), partials.end(),
                              [](const auto& a, const auto& b) { return std::get<0>(a) < std::get<0>(b); });
                    for (const auto& [first, weight_part, bias_part] : partials) {
                        if (gw) add_into<T>(grad_weight, weight_part);
                        if (gb) add_into<T>(grad_bias, bias_part);
                    }
                });
                return std::vector<Tensor>{grad_input, grad_weight, grad_bias};
            },
            true,
            [p = conv2d_problem(s, padding), so = relu ? SavedTensor(out) : SavedTensor(), relu](
                const Tensor& g, const BackwardInputs& in) {
                const Tensor gy = relu ? g * (so.unpack() > 0.0).to(g.dtype()) : g;  // ReLU's mask: constant
                return detail::convolution_backward_graph(p, gy, in[0], in[1], in.needs(0), in.needs(1), in.needs(2));
            });
    }
    return out;
}

}  // namespace

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 2> stride,
              std::array<std::int64_t, 4> padding, std::array<std::int64_t, 2> dilation, std::int64_t groups) {
    return conv2d_then(input, weight, bias, stride, padding, dilation, groups, false);
}

Tensor conv2d_relu(const Tensor& input, const Tensor& weight, const Tensor& bias, std::array<std::int64_t, 2> stride,
                   std::array<std::int64_t, 4> padding, std::array<std::int64_t, 2> dilation, std::int64_t groups) {
    return conv2d_then(input, weight, bias, stride, padding, dilation, groups, true);
}

Tensor conv_transpose2d(const Tensor& input, const Tensor& weight, const Tensor& bias,
                        std::array<std::int64_t, 2> stride, std::array<std::int64_t, 2> padding,
                        std::array<std::int64_t, 2> output_padding, std::array<std::int64_t, 2> dilation,
                        std::int64_t groups) {
    // PyTorch 1.13's CPU autocast runs transposed convolutions in float32.
    if (autocast::Float32Region fp32; fp32.active()) {
        return conv_transpose2d(fp32(input), fp32(weight), fp32(bias), stride, padding, output_padding, dilation,
                                groups);
    }
    if (const Dtype half = detail::float16_to_widen({&input, &weight, &bias}); half != kFloat32) {
        using lazynn::detail::widened;
        return conv_transpose2d(widened(input), widened(weight), widened(bias), stride, padding, output_padding,
                                dilation, groups)
            .to(half);
    }
    if (input.dim() != 4)
        throw ShapeError("conv_transpose2d: expected input [N, C, H, W], got " + shape_to_list(input.shape()));
    if (weight.dim() != 4)
        throw ShapeError("conv_transpose2d: expected weight [C_in, C_out/groups, kH, kW], got " +
                         shape_to_list(weight.shape()));
    check_conv_bias(weight, bias, groups, true, "conv_transpose2d");
    if (input.size(1) != weight.size(0)) {
        throw ShapeError("conv_transpose2d: Given transposed=1, weight of size " + shape_to_list(weight.shape()) +
                         ", expected input" + shape_to_list(input.shape()) + " to have " +
                         std::to_string(weight.size(0)) + " channels, but got " + std::to_string(input.size(1)) +
                         " channels instead");
    }
    // The geometry of the convolution this is the adjoint of: its "input" is our output.
    ConvGeometry s{};
    const std::int64_t h = input.size(2), w = input.size(3);
    s.n = input.size(0);
    s.groups = groups;
    s.o = weight.size(0);           // the adjoint conv's output channels = our input channels
    s.c = weight.size(1) * groups;  // its input channels = our output channels
    s.kh = weight.size(2), s.kw = weight.size(3);
    s.sh = stride[0], s.sw = stride[1], s.pt = padding[0], s.pl = padding[1], s.dh = dilation[0], s.dw = dilation[1];
    s.h = (h - 1) * s.sh - 2 * padding[0] + s.dh * (s.kh - 1) + output_padding[0] + 1;
    s.w = (w - 1) * s.sw - 2 * padding[1] + s.dw * (s.kw - 1) + output_padding[1] + 1;
    s.oh = h, s.ow = w;
    if (s.h <= 0 || s.w <= 0)
        throw ShapeError("conv_transpose2d: the output size would be non-positive for input " +
                         shape_to_list(input.shape()));
    if (input.dtype() != weight.dtype()) {
        throw DtypeError("conv_transpose2d: input (" + dtype_name(input.dtype()) + ") and weight (" +
                         dtype_name(weight.dtype()) + ") must have the same dtype");
    }
    if (detail::runs_on_onednn(input.dtype()))
        return detail::convolution_transpose_onednn(input, weight, bias,
                                                    conv2d_problem(s, {padding[0], 0, padding[1], 0}));
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor wt = lazynn::detail::contiguous_data(weight);
    Tensor out = zeros({s.n, s.c, s.h, s.w}, input.dtype());
    Tensor cols_buffer = lazynn::detail::empty_tensor({s.k() * s.l()}, input.dtype());
    visit_floating(input.dtype(), "conv_transpose2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* cols = cols_buffer.impl().data<T>();
        const T* xv = x.impl().data<T>();
        const T* wv = wt.impl().data<T>();
        T* o = out.impl().data<T>();
        for (std::int64_t n = 0; n < s.n; ++n) {
            for (std::int64_t g = 0; g < s.groups; ++g) {
                // cols[K, L] = W_g^T [K, O_g] x_g [O_g, L], then scatter into the output image.
                gemm<T>(true, false, s.k(), s.l(), s.og(), T(1), wv + g * s.og() * s.k(), s.k(),
                        xv + (n * s.o + g * s.og()) * s.l(), s.l(), T(0), cols, s.l());
                col2im(s, cols, n, g, o);
            }
        }
        if (bias.defined()) {
            const std::vector<double> b = bias.to_vector<double>();
            for (std::int64_t n = 0; n < s.n; ++n) {
                for (std::int64_t ch = 0; ch < s.c; ++ch) {
                    T* plane = o + (n * s.c + ch) * s.h * s.w;
                    const T bv = static_cast<T>(b[static_cast<std::size_t>(ch)]);
                    for (std::int64_t e = 0; e < s.h * s.w; ++e) plane[e] += bv;
                }
            }
        }
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gi = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
        record(
            out, "ConvolutionBackward0", {input, weight, bias},
            [s, sx = SavedTensor(x), sw = SavedTensor(wt), gi, gw, gb](const Tensor& g_in) {
                const Tensor go = lazynn::detail::contiguous_data(g_in);
                const Tensor xv = sx.unpack(), wv = sw.unpack();
                Tensor grad_input = gi ? lazynn::detail::empty_tensor(xv.shape(), xv.dtype()) : Tensor();
                Tensor grad_weight = gw ? zeros(wv.shape(), wv.dtype()) : Tensor();
                Tensor grad_bias = gb ? go.sum({0, 2, 3}) : Tensor();
                Tensor backward_cols = lazynn::detail::empty_tensor({s.k() * s.l()}, xv.dtype());
                visit_floating(xv.dtype(), "conv_transpose2d_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    T* cols = backward_cols.impl().data<T>();
                    for (std::int64_t n = 0; n < s.n; ++n) {
                        for (std::int64_t g = 0; g < s.groups; ++g) {
                            im2col(s, go.impl().data<T>(), n, g, cols);
                            const T* xg = xv.impl().data<T>() + (n * s.o + g * s.og()) * s.l();
                            if (gi) {
                                gemm<T>(false, false, s.og(), s.l(), s.k(), T(1),
                                        wv.impl().data<T>() + g * s.og() * s.k(), s.k(), cols, s.l(), T(0),
                                        grad_input.impl().data<T>() + (n * s.o + g * s.og()) * s.l(), s.l());
                            }
                            if (gw) {
                                gemm<T>(false, true, s.og(), s.k(), s.l(), T(1), xg, s.l(), cols, s.l(), T(1),
                                        grad_weight.impl().data<T>() + g * s.og() * s.k(), s.k());
                            }
                        }
                    }
                });
                return std::vector<Tensor>{grad_input, grad_weight, grad_bias};
            },
            true,
            [p = conv2d_problem(s, {padding[0], 0, padding[1], 0})](const Tensor& g, const BackwardInputs& in) {
                // The adjoint convolution's forward and weight gradient (see conv_onednn.cpp).
                return std::vector<Tensor>{in.needs(0) ? detail::convolution_graph(p, g, in[1]) : Tensor(),
                                           in.needs(1) ? detail::convolution_weight_grad_graph(p, g, in[0]) : Tensor(),
                                           in.needs(2) ? g.sum({0, 2, 3}) : Tensor()};
            });
    }
    return out;
}

Tensor pad(const Tensor& input, const std::vector<std::int64_t>& pads, const std::string& mode, double value) {
    if (pads.size() % 2 != 0 || static_cast<std::int64_t>(pads.size() / 2) > input.dim()) {
        throw ValueError("pad: padding length must be even and at most twice the number of dims, got " +
                         std::to_string(pads.size()) + " for an input of shape " + shape_to_list(input.shape()));
    }
    if (mode != "constant" && mode != "zeros" && mode != "reflect" && mode != "replicate" && mode != "circular") {
        throw ValueError("pad: mode must be 'constant', 'reflect', 'replicate' or 'circular', got '" + mode + "'");
    }
    Tensor out = input;
    for (std::size_t k = 0; k < pads.size() / 2; ++k) {
        const std::int64_t dim = input.dim() - 1 - static_cast<std::int64_t>(k);
        const std::int64_t before = pads[2 * k], after = pads[2 * k + 1];
        if (before == 0 && after == 0) continue;
        const std::int64_t size = out.size(dim);
        if (mode == "constant" || mode == "zeros") {
            if (before < 0 || after < 0) {
                out = out.narrow(dim, std::max<std::int64_t>(-before, 0),
                                 size + std::min<std::int64_t>(before, 0) + std::min<std::int64_t>(after, 0));
            }
            std::vector<Tensor> parts;
            Shape block = out.shape();
            if (before > 0) {
                block[static_cast<std::size_t>(dim)] = before;
                parts.push_back(full(block, value, out.dtype()));
            }
            parts.push_back(out);
            if (after > 0) {
                block[static_cast<std::size_t>(dim)] = after;
                parts.push_back(full(block, value, out.dtype()));
            }
            out = cat(parts, dim);
            continue;
        }
        if (mode == "reflect" && (before >= size || after >= size)) {
            throw ValueError("pad: reflect padding (" + std::to_string(before) + ", " + std::to_string(after) +
                             ") must be smaller than the padded dimension (" + std::to_string(size) + ")");
        }
        if (mode == "circular" && (before > size || after > size)) {
            throw ValueError("pad: circular padding may not exceed the dimension size " + std::to_string(size));
        }
        std::vector<std::int64_t> index;
        for (std::int64_t i = -before; i < size + after; ++i) {
            std::int64_t j = i;
            if (mode == "replicate")
                j = std::clamp<std::int64_t>(i, 0, size - 1);
            else if (mode == "circular")
                j = ((i % size) + size) % size;
            else if (i < 0)
                j = -i;
            else if (i >= size)
                j = 2 * (size - 1) - i;
            index.push_back(j);
        }
        out = out.index_select(dim, tensor(index, {static_cast<std::int64_t>(index.size())}));
    }
    return out;
}

void check_conv_bias(const Tensor& weight, const Tensor& bias, std::int64_t groups, bool transposed, const char* op) {
    if (!bias.defined()) return;
    if (weight.dim() < 2)
        throw ShapeError(std::string(op) + ": expected a weight with at least 2 dims, got " +
                         shape_to_list(weight.shape()));
    const std::int64_t out_channels = transposed ? weight.size(1) * groups : weight.size(0);
    if (bias.dim() != 1 || bias.size(0) != out_channels) {
        throw RuntimeError(std::string(op) + ": Given " + (transposed ? "transposed=1, " : "") + "weight of size " +
                           shape_to_list(weight.shape()) + ", expected bias to be 1-dimensional with " +
                           std::to_string(out_channels) + " elements, but got bias of size " +
                           shape_to_list(bias.shape()) + " instead");
    }
}

}  // namespace lazynn::ops
