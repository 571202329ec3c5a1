// Pooling ops with their backward (2-D; 1-D runs as 2-D with a unit height, 3-D is composed in pooling3d.cpp),
// each also in recording ops for create_graph.
#include "autograd/function_node.hpp"
#include "parallel.hpp"
#include "ops/pooling_kernels.hpp"
#include "ops/pooling_size.hpp"
#include "tensor_impl.hpp"

#include <lazynn/error.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/ops/pooling.hpp>

#include <cmath>
#include <limits>

namespace lazynn::ops {

std::int64_t detail::pooled_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t p, std::int64_t d,
                                 bool ceil_mode) {
    const std::int64_t span = in + 2 * p - d * (k - 1) - 1;
    // Floor (or ceil) division, also for a negative span (a window larger than the padded input):
    // C++ division truncates towards zero, which would turn that into one output instead of none.
    const std::int64_t rounded = ceil_mode ? span + s - 1 : span;
    std::int64_t out = (rounded >= 0 ? rounded / s : -((-rounded + s - 1) / s)) + 1;
    // The last window must start inside the input or the left padding (PyTorch's rule).
    if (ceil_mode && (out - 1) * s >= in + p) --out;
    return out;
}

namespace {

using autograd::detail::BackwardInputs;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;
using detail::pooled_size;

/// PyTorch's message, with the sizes of one sample: "Given input size: (CxHxW). Calculated output
/// size: (CxH'xW'). Output size is too small".
[[noreturn]] void throw_output_too_small(const Tensor& input, std::int64_t oh, std::int64_t ow) {
    const std::string c = std::to_string(input.size(1));
    throw ShapeError("Given input size: (" + c + "x" + std::to_string(input.size(2)) + "x" +
                     std::to_string(input.size(3)) + "). Calculated output size: (" + c + "x" +
                     std::to_string(std::max<std::int64_t>(oh, 0)) + "x" +
                     std::to_string(std::max<std::int64_t>(ow, 0)) + "). Output size is too small");
}

void check_pool_input(const Tensor& input, std::array<std::int64_t, 2> kernel, std::array<std::int64_t, 2> stride,
                      std::array<std::int64_t, 2> padding, std::array<std::int64_t, 2> dilation, const char* op) {
    if (input.dim() != 4)
        throw ShapeError(std::string(op) + ": expected input [N, C, H, W], got " + shape_to_list(input.shape()));
    // Non-positive values would divide by zero or index before the input (PyTorch's checks).
    if (stride[0] <= 0 || stride[1] <= 0 || kernel[0] <= 0 || kernel[1] <= 0) {
        throw RuntimeError(std::string(op) +
                           ": stride and kernel_size should be greater than zero, but got kernel_size=" +
                           std::to_string(kernel[0]) + "x" + std::to_string(kernel[1]) +
                           ", stride=" + std::to_string(stride[0]) + "x" + std::to_string(stride[1]));
    }
    if (dilation[0] <= 0 || dilation[1] <= 0) {
        throw RuntimeError(std::string(op) + ": dilation should be greater than zero, but got dilationH: " +
                           std::to_string(dilation[0]) + " dilationW: " + std::to_string(dilation[1]));
    }
    if (padding[0] < 0 || padding[1] < 0) {
        throw RuntimeError(std::string(op) + ": pad must be non-negative, but got pad: " +
                           std::to_string(std::min(padding[0], padding[1])));
    }
    for (int i = 0; i < 2; ++i) {
        if (padding[static_cast<std::size_t>(i)] * 2 > kernel[static_cast<std::size_t>(i)]) {
            throw ValueError(std::string(op) + ": pad should be at most half of effective kernel size, but got pad=" +
                             std::to_string(padding[static_cast<std::size_t>(i)]) +
                             ", kernel_size=" + std::to_string(kernel[static_cast<std::size_t>(i)]));
        }
    }
}

}  // namespace

// The create_graph formula of max pooling (pooling_kernels.hpp).
Tensor detail::max_pool_grad_graph(const Tensor& g, const Tensor& indices, const Shape& shape) {
    return zeros({shape[0], shape[1], shape[2] * shape[3]}, g.dtype())
        .scatter_add(2, indices.reshape({shape[0], shape[1], -1}), g.reshape({shape[0], shape[1], -1}))
        .reshape(shape);
}

ValuesIndices max_pool2d_with_indices(const Tensor& input, std::array<std::int64_t, 2> k, std::array<std::int64_t, 2> s,
                                      std::array<std::int64_t, 2> p, std::array<std::int64_t, 2> d, bool ceil_mode) {
    if (is_float16(input.dtype())) {
        // Pooled in float32 (exact for 16-bit values): the maxima and their indices are the same.
        ValuesIndices wide = max_pool2d_with_indices(input.to(kFloat32), k, s, p, d, ceil_mode);
        return {wide.values.to(input.dtype()), wide.indices};
    }
    check_pool_input(input, k, s, p, d, "max_pool2d");
    const std::int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
    const std::int64_t oh = pooled_size(h, k[0], s[0], p[0], d[0], ceil_mode),
                       ow = pooled_size(w, k[1], s[1], p[1], d[1], ceil_mode);
    if (oh <= 0 || ow <= 0) throw_output_too_small(input, oh, ow);
    const Tensor x = lazynn::detail::contiguous_data(input);
    Tensor values = lazynn::detail::empty_tensor({n, c, oh, ow}, input.dtype());
    Tensor indices = lazynn::detail::empty_tensor({n, c, oh, ow}, kInt64);
    visit_floating(input.dtype(), "max_pool2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = x.impl().data<T>();
        T* out = values.impl().data<T>();
        std::int64_t* idx = indices.impl().data<std::int64_t>();
        // Windows that lie wholly inside the input (no padding, no ceil overhang) skip the bounds checks.
        const bool inside = p[0] == 0 && p[1] == 0 && (oh - 1) * s[0] + d[0] * (k[0] - 1) < h &&
                            (ow - 1) * s[1] + d[1] * (k[1] - 1) < w;
        const bool two_by_two = inside && k[0] == 2 && k[1] == 2 && d[0] == 1 && d[1] == 1;
        // Planes are independent: split them across threads when there is enough work.
        lazynn::detail::parallel_for(
            n * c, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(h * w, 1)),
            [&](std::int64_t first_plane, std::int64_t end_plane) {
                for (std::int64_t plane = first_plane; plane < end_plane && two_by_two; ++plane) {
                    // The common 2x2 window: compare the four candidates in PyTorch's scan order
                    // (first maximum wins; NaN propagates).
                    const T* __restrict src = in + plane * h * w;
                    T* __restrict out_plane = out + plane * oh * ow;
                    std::int64_t* __restrict idx_plane = idx + plane * oh * ow;
                    const std::int64_t width = w, step_x = s[1], step_y = s[0];
                    // Branch-free: the maximum by max-selects (a tie keeps the earlier candidate), then
                    // the first candidate equal to it by arithmetic on the comparisons. On real
                    // activations the comparisons are unpredictable, and mispredicted branches used to
                    // cost more than everything else here. A window holding NaN takes the scan below.
                    for (std::int64_t y = 0; y < oh; ++y) {
                        const std::int64_t top = y * step_y * width;
                        for (std::int64_t xo = 0; xo < ow; ++xo) {
                            const std::int64_t a0 = top + xo * step_x;
                            const T v0 = src[a0], v1 = src[a0 + 1], v2 = src[a0 + width], v3 = src[a0 + width + 1];
                            const T upper = v1 > v0 ? v1 : v0;
                            const T lower = v3 > v2 ? v3 : v2;
                            const T best = lower > upper ? lower : upper;
                            const std::int64_t not0 = v0 != best, not1 = v1 != best, not2 = v2 != best;
                            std::int64_t best_at = a0 + not0 * (not1 * (width + not2) + (1 - not1));
                            T value = best;
                            if ((v0 != v0) | (v1 != v1) | (v2 != v2) |
                                (v3 != v3)) {  // NaN: the last one wins, as in PyTorch's scan
                                const std::int64_t cand[4] = {a0 + width + 1, a0 + width, a0 + 1, a0};
                                for (std::int64_t q : cand) {
                                    if (src[q] != src[q]) {
                                        value = src[q];
                                        best_at = q;
                                        break;
                                    }
                                }
                            }
                            out_plane[y * ow + xo] = value;
                            idx_plane[y * ow + xo] = best_at;
                        }
                    }
                }
                for (std::int64_t plane = first_plane; plane < end_plane && inside && !two_by_two; ++plane) {
                    const T* src = in + plane * h * w;
                    T* out_plane = out + plane * oh * ow;
                    std::int64_t* idx_plane = idx + plane * oh * ow;
                    for (std::int64_t y = 0; y < oh; ++y) {
                        for (std::int64_t xo = 0; xo < ow; ++xo) {
                            std::int64_t best_at = y * s[0] * w + xo * s[1];
                            T best = src[best_at];
                            for (std::int64_t i = 0; i < k[0]; ++i) {
                                const std::int64_t row = (y * s[0] + i * d[0]) * w + xo * s[1];
                                for (std::int64_t j = 0; j < k[1]; ++j) {
                                    const std::int64_t at = row + j * d[1];
                                    const T v = src[at];
                                    if (v > best || v != v) {  // every NaN replaces the previous pick (PyTorch's scan)
                                        best = v;
                                        best_at = at;
                                    }
                                }
                            }
                            out_plane[y * ow + xo] = best;
                            idx_plane[y * ow + xo] = best_at;
                        }
                    }
                }
                for (std::int64_t plane = first_plane; plane < end_plane && !inside; ++plane) {
                    const T* src = in + plane * h * w;
                    for (std::int64_t y = 0; y < oh; ++y) {
                        for (std::int64_t xo = 0; xo < ow; ++xo) {
                            T best = -std::numeric_limits<T>::infinity();
                            std::int64_t best_at = -1;
                            for (std::int64_t i = 0; i < k[0]; ++i) {
                                const std::int64_t iy = y * s[0] - p[0] + i * d[0];
                                if (iy < 0 || iy >= h) continue;
                                for (std::int64_t j = 0; j < k[1]; ++j) {
                                    const std::int64_t ix = xo * s[1] - p[1] + j * d[1];
                                    if (ix < 0 || ix >= w) continue;
                                    const T v = src[iy * w + ix];
                                    if (v > best || std::isnan(v) || best_at < 0) {
                                        best = v;
                                        best_at = iy * w + ix;
                                    }
                                }
                            }
                            const std::int64_t o = (plane * oh + y) * ow + xo;
                            out[o] = best;
                            idx[o] = best_at;
                        }
                    }
                }
            });
    });
    if (needs_grad({&input})) {
        record(
            values, "MaxPool2DWithIndicesBackward0", {input},
            [si = SavedTensor(indices), shape = input.shape(), dtype = input.dtype()](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in);
                const Tensor ix = si.unpack();
                Tensor grad =
                    lazynn::detail::empty_tensor(shape, dtype);  // each plane is zeroed by its thread, in cache
                const std::int64_t planes = shape[0] * shape[1], in_plane = shape[2] * shape[3],
                                   out_plane = g.size(2) * g.size(3);
                visit_floating(dtype, "max_pool2d_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    T* gr = grad.impl().data<T>();
                    const T* gv = g.impl().data<T>();
                    const std::int64_t* iv = ix.impl().data<std::int64_t>();
                    lazynn::detail::parallel_for(
                        planes, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(in_plane, 1)),
                        [&](std::int64_t first, std::int64_t end) {
                            for (std::int64_t plane = first; plane < end; ++plane) {
                                std::fill(gr + plane * in_plane, gr + (plane + 1) * in_plane, T(0));
                                for (std::int64_t e = 0; e < out_plane; ++e) {
                                    const std::int64_t at = iv[plane * out_plane + e];
                                    if (at >= 0) gr[plane * in_plane + at] += gv[plane * out_plane + e];
                                }
                            }
                        });
                });
                return std::vector<Tensor>{grad};
            },
            true,
            [si = SavedTensor(indices), shape = input.shape()](const Tensor& g, const BackwardInputs&) {
                return std::vector<Tensor>{detail::max_pool_grad_graph(g, si.unpack(), shape)};
            });
    }
    return {values, indices};
}

Tensor max_pool2d(const Tensor& input, std::array<std::int64_t, 2> k, std::array<std::int64_t, 2> s,
                  std::array<std::int64_t, 2> p, std::array<std::int64_t, 2> d, bool ceil_mode) {
    if (is_float16(input.dtype())) {
        return lazynn::detail::through_float32(input,
                                               [&](const Tensor& x) { return max_pool2d(x, k, s, p, d, ceil_mode); });
    }
    const bool two_by_two = k == std::array<std::int64_t, 2>{2, 2} && s == k &&
                            p == std::array<std::int64_t, 2>{0, 0} && d == std::array<std::int64_t, 2>{1, 1};
    const bool fast = two_by_two && input.dim() == 4 && input.size(2) >= 2 && input.size(3) >= 2 &&
                      (!ceil_mode || (input.size(2) % 2 == 0 && input.size(3) % 2 == 0)) && is_floating(input.dtype());
    if (!fast) return max_pool2d_with_indices(input, k, s, p, d, ceil_mode).values;
    const Shape shape = input.shape();
    const std::int64_t planes = shape[0] * shape[1], h = shape[2], w = shape[3];
    const Tensor x = lazynn::detail::contiguous_data(input);
    Tensor values = lazynn::detail::empty_tensor({shape[0], shape[1], h / 2, w / 2}, input.dtype());
    // Planes are independent: split them across threads when there is enough work.
    const std::int64_t grain = std::max<std::int64_t>(1, 16384 / (h * w));
    visit_floating(input.dtype(), "max_pool2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = x.impl().data<T>();
        T* out = values.impl().data<T>();
        lazynn::detail::parallel_for(planes, grain, [&](std::int64_t first, std::int64_t end) {
            detail::max_pool_2x2_forward(in + first * h * w, out + first * (h / 2) * (w / 2), end - first, h, w);
        });
    });
    if (needs_grad({&input})) {
        // The backward finds each window's maximum again in the saved input (see pooling_kernels.hpp).
        record(
            values, "MaxPool2DWithIndicesBackward0", {input},
            [sx = SavedTensor(x), planes, h, w, grain](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in);
                const Tensor xv = sx.unpack();
                Tensor grad = lazynn::detail::empty_tensor(xv.shape(), xv.dtype());
                visit_floating(xv.dtype(), "max_pool2d_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* in = xv.impl().data<T>();
                    const T* gv = g.impl().data<T>();
                    T* gr = grad.impl().data<T>();
                    lazynn::detail::parallel_for(planes, grain, [&](std::int64_t first, std::int64_t end) {
                        detail::max_pool_2x2_backward(in + first * h * w, gv + first * (h / 2) * (w / 2),
                                                      gr + first * h * w, end - first, h, w);
                    });
                });
                return std::vector<Tensor>{grad};
            },
            true,
            [](const Tensor& g, const BackwardInputs& in) {
                // This kernel keeps no indices: find them (the same maxima) for the graph formula.
                Tensor indices;
                {
                    NoGradGuard no_grad;
                    indices = max_pool2d_with_indices(in[0], {2, 2}, {2, 2}, {0, 0}, {1, 1}, false).indices;
                }
                return std::vector<Tensor>{detail::max_pool_grad_graph(g, indices, in[0].shape())};
            });
    }
    return values;
}

Tensor avg_pool2d(const Tensor& input, std::array<std::int64_t, 2> k, std::array<std::int64_t, 2> s,
                  std::array<std::int64_t, 2> p, bool ceil_mode, bool count_include_pad,
                  std::int64_t divisor_override) {
    if (is_float16(input.dtype())) {
        return lazynn::detail::through_float32(input, [&](const Tensor& x) {
            return avg_pool2d(x, k, s, p, ceil_mode, count_include_pad, divisor_override);
        });
    }
    check_pool_input(input, k, s, p, {1, 1}, "avg_pool2d");
    const std::int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
    const std::int64_t oh = pooled_size(h, k[0], s[0], p[0], 1, ceil_mode),
                       ow = pooled_size(w, k[1], s[1], p[1], 1, ceil_mode);
    if (oh <= 0 || ow <= 0) throw_output_too_small(input, oh, ow);
    // For every output cell: the clipped window and its divisor (PyTorch's rules).
    struct Window {
        std::int64_t y0, y1, x0, x1;
        double divisor;
    };
    std::vector<Window> windows;
    for (std::int64_t y = 0; y < oh; ++y) {
        for (std::int64_t xo = 0; xo < ow; ++xo) {
            std::int64_t y0 = y * s[0] - p[0], x0 = xo * s[1] - p[1];
            std::int64_t y1 = std::min(y0 + k[0], h + p[0]), x1 = std::min(x0 + k[1], w + p[1]);
            const double padded = static_cast<double>((y1 - y0) * (x1 - x0));
            y0 = std::max<std::int64_t>(y0, 0), x0 = std::max<std::int64_t>(x0, 0);
            y1 = std::min(y1, h), x1 = std::min(x1, w);
            const double divisor = divisor_override
                                       ? static_cast<double>(divisor_override)
                                       : (count_include_pad ? padded : static_cast<double>((y1 - y0) * (x1 - x0)));
            windows.push_back({y0, y1, x0, x1, divisor});
        }
    }
    const Tensor x = lazynn::detail::contiguous_data(input);
    Tensor out = lazynn::detail::empty_tensor({n, c, oh, ow}, input.dtype());
    visit_floating(input.dtype(), "avg_pool2d", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = x.impl().data<T>();
        T* o = out.impl().data<T>();
        lazynn::detail::parallel_for(n * c, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(h * w, 1)),
                                     [&](std::int64_t first_plane, std::int64_t end_plane) {
                                         for (std::int64_t plane = first_plane; plane < end_plane; ++plane) {
                                             const T* src = in + plane * h * w;
                                             for (std::size_t e = 0; e < windows.size(); ++e) {
                                                 const Window& win = windows[e];
                                                 double acc = 0;
                                                 for (std::int64_t iy = win.y0; iy < win.y1; ++iy) {
                                                     for (std::int64_t ix = win.x0; ix < win.x1; ++ix)
                                                         acc += src[iy * w + ix];
                                                 }
                                                 o[plane * oh * ow + static_cast<std::int64_t>(e)] =
                                                     static_cast<T>(acc / win.divisor);
                                             }
                                         }
                                     });
    });
    if (needs_grad({&input})) {
        record(
            out, "AvgPool2DBackward0", {input},
            [windows, shape = input.shape(), dtype = input.dtype()](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in);
                Tensor grad = zeros(shape, dtype);
                const std::int64_t planes = shape[0] * shape[1], width = shape[3], in_plane = shape[2] * shape[3];
                const auto out_plane = static_cast<std::int64_t>(windows.size());
                visit_floating(dtype, "avg_pool2d_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    T* gr = grad.impl().data<T>();
                    const T* gv = g.impl().data<T>();
                    lazynn::detail::parallel_for(
                        planes, std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(in_plane, 1)),
                        [&](std::int64_t first_plane, std::int64_t end_plane) {
                            for (std::int64_t plane = first_plane; plane < end_plane; ++plane) {
                                for (std::int64_t e = 0; e < out_plane; ++e) {
                                    const auto& win = windows[static_cast<std::size_t>(e)];
                                    const T share = static_cast<T>(gv[plane * out_plane + e] / win.divisor);
                                    for (std::int64_t iy = win.y0; iy < win.y1; ++iy) {
                                        for (std::int64_t ix = win.x0; ix < win.x1; ++ix)
                                            gr[plane * in_plane + iy * width + ix] += share;
                                    }
                                }
                            }
                        });
                });
                return std::vector<Tensor>{grad};
            },
            false,
            [windows, shape = input.shape()](const Tensor& g, const BackwardInputs&) {
                // Linear in g: every (input element, window) pair passes g / divisor on, as an
                // index_select of g's cells scattered into the input plane.
                std::vector<std::int64_t> from, to;
                std::vector<double> share;
                const std::int64_t width = shape[3];
                for (std::size_t e = 0; e < windows.size(); ++e) {
                    const auto& win = windows[e];
                    for (std::int64_t iy = win.y0; iy < win.y1; ++iy) {
                        for (std::int64_t ix = win.x0; ix < win.x1; ++ix) {
                            from.push_back(static_cast<std::int64_t>(e));
                            to.push_back(iy * width + ix);
                            share.push_back(1.0 / win.divisor);
                        }
                    }
                }
                const auto pairs = static_cast<std::int64_t>(from.size());
                const Tensor cells = g.reshape({shape[0], shape[1], -1}).index_select(2, tensor(from, Shape{pairs})) *
                                     tensor(share, Shape{pairs}, kFloat64).to(g.dtype());
                const Tensor targets = tensor(to, Shape{1, 1, pairs}).expand({shape[0], shape[1], pairs}).contiguous();
                return std::vector<Tensor>{zeros({shape[0], shape[1], shape[2] * width}, g.dtype())
                                               .scatter_add(2, targets, cells)
                                               .reshape(shape)};
            });
    }
    return out;
}

Tensor adaptive_avg_pool2d(const Tensor& input, std::array<std::int64_t, 2> output_size) {
    if (is_float16(input.dtype()))
        return lazynn::detail::through_float32(input,
                                               [&](const Tensor& x) { return adaptive_avg_pool2d(x, output_size); });
    if (input.dim() != 4)
        throw ShapeError("adaptive_avg_pool2d: expected input [N, C, H, W], got " + shape_to_list(input.shape()));
    if (!is_floating(input.dtype())) {  // PyTorch has no integer kernel either
        throw DtypeError("adaptive_avg_pool2d: expected a floating point input, got " + dtype_name(input.dtype()) +
                         "; convert with .to(kFloat32)");
    }
    const std::int64_t h = input.size(2), w = input.size(3), oh = output_size[0], ow = output_size[1];
    if (oh <= 0 || ow <= 0) throw ValueError("adaptive_avg_pool2d: output size must be positive");
    // Each output cell averages rows [floor(i*H/oh), ceil((i+1)*H/oh)) and the same for columns:
    // the mean of each column window, then of each row window, from recorded ops (autograd and
    // create_graph come with them). Only the window is read, so a NaN or inf reaches only the
    // cells whose window holds it (as in PyTorch; an averaging matrix's zeros would spread it).
    const auto average_windows = [](const Tensor& x, std::int64_t dim, std::int64_t in, std::int64_t out) {
        if (out == in) return x;  // windows of one element
        if (out == 1) return x.mean({dim}, true);
        std::vector<Tensor> cells;
        cells.reserve(static_cast<std::size_t>(out));
        for (std::int64_t i = 0; i < out; ++i) {
            const std::int64_t start = (i * in) / out, end = ((i + 1) * in + out - 1) / out;
            cells.push_back(x.narrow(dim, start, end - start).mean({dim}, true));
        }
        return cat(cells, dim);
    };
    // Global average pooling (the usual CNN head): one mean over each plane, which reads the input
    // once and rounds once, instead of a mean of row means.
    if (oh == 1 && ow == 1 && h > 0 && w > 0) return input.mean({2, 3}, true);
    return average_windows(average_windows(input, 3, w, ow), 2, h, oh);
}

}  // namespace lazynn::ops
