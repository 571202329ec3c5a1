#pragma once
// The batch norm kernels by storage type (internal): float32 and float64 tensors run the kernels of
// norm_kernels.hpp and batch_norm_pool_kernels.hpp as they are; bfloat16 and float16 tensors run the
// float32 kernels one channel at a time on a copy of that channel widened into a per-thread buffer,
// and round the results back from it. Widening whole tensors instead (x to float32, the result back
// to 16 bits, and the same for every gradient) costs four passes through memory per layer and step,
// more than the batch norm itself (docs/design.md, decision 26). The arithmetic is the float32
// kernels' own: the results are bit for bit those of the 16-bit layers run one by one.
//
// Every function covers channels [first, end) of x [n, c, s] (s: the spatial size, h * w for the
// pooled kernels); the per-channel arrays are indexed by channel. The forwards take each channel
// through its batch statistics (when mean and var are not null: then set_channel(ch) fills scale[ch]
// and shift[ch] from them) and its normalisation in one visit, while the channel is in cache: a
// channel's statistics need no other channel, so no pass over the whole tensor has to finish first.

#include "ops/batch_norm_pool_kernels.hpp"
#include "ops/bfloat16_conversion.hpp"
#include "ops/norm_kernels.hpp"
#include "ops/pooling_kernels.hpp"

#include <lazynn/float16.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

namespace lazynn::ops::detail {

/// out[k] = in[k] converted (rounded once) to To, k in [0, len): bfloat16 on the SIMD kernels.
template <class To, class From>
void convert_row(const From* in, To* out, std::int64_t len) {
    if constexpr (std::is_same_v<From, BFloat16> && std::is_same_v<To, float>) {
        widen_bfloat16(in, out, len);
    } else if constexpr (std::is_same_v<From, float> && std::is_same_v<To, BFloat16>) {
        narrow_bfloat16(in, out, len);
    } else {
        for (std::int64_t k = 0; k < len; ++k) out[k] = element_cast<To>(in[k]);
    }
}

/// Copies channel ch of x [n, c, s] into out [n, s], converted to To.
template <class To, class From>
void gather_channel(const From* x, To* out, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t ch) {
    for (std::int64_t i = 0; i < n; ++i) convert_row(x + (i * c + ch) * s, out + i * s, s);
}

/// Copies rows [n, s] of from into channel ch of x [n, c, s], converted (rounded once) to To.
template <class To, class From>
void scatter_channel(const From* from, To* x, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t ch) {
    for (std::int64_t i = 0; i < n; ++i) convert_row(from + i * s, x + (i * c + ch) * s, s);
}

/// The per-thread float32 buffers the 16-bit kernels widen a channel into, kept between calls (and
/// never shrunk): a channel of a CNN's batch is hundreds of kilobytes, above malloc's mmap
/// threshold, and fresh buffers on every call cost page faults and zeroing that took longer than the
/// batch norm itself.
enum class ChannelBuffer : std::size_t { x, y, dy, grad_out, grad_x, count };

inline float* channel_buffer(ChannelBuffer which, std::int64_t floats) {
    thread_local std::array<std::vector<float>, static_cast<std::size_t>(ChannelBuffer::count)> buffers;
    std::vector<float>& buffer = buffers[static_cast<std::size_t>(which)];
    if (buffer.size() < static_cast<std::size_t>(floats)) buffer.resize(static_cast<std::size_t>(floats));
    return buffer.data();
}

/// float32 and float64: the kernels as they are. backward's relu_output is a fused ReLU's saved
/// output (its mask), or null without one.
template <class T>
struct BatchNormChannels {
    template <class SetChannel>
    static void forward(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                        std::int64_t end, double* mean, double* var, SetChannel&& set_channel, const double* scale,
                        const double* shift, bool relu) {
        for (std::int64_t ch = first; ch < end; ++ch) {
            if (mean) {
                batch_norm_statistics(x, n, c, s, ch, ch + 1, mean, var);
                set_channel(ch);
            }
            batch_norm_transform(x, y, n, c, s, ch, ch + 1, scale, shift, relu);
        }
    }
    static void backward(const T* x, const T* g, const T* relu_output, T* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t s, std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                         const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat) {
        batch_norm_backward(x, g, relu_output, grad_x, n, c, s, first, end, mean, invstd, weight, batch_statistics,
                            sum_dy, sum_dy_xhat);
    }
    template <class SetChannel>
    static void relu_max_pool_forward(const T* x, T* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, double* mean, double* var,
                                      SetChannel&& set_channel, const double* scale, const double* shift) {
        for (std::int64_t ch = first; ch < end; ++ch) {
            if (mean) {
                batch_norm_statistics(x, n, c, h * w, ch, ch + 1, mean, var);
                set_channel(ch);
            }
            batch_norm_relu_max_pool_forward(x, out, n, c, h, w, ch, ch + 1, scale, shift, false);
        }
    }
    static void relu_max_pool_backward(const T* x, const T* grad_out, T* grad_x, std::int64_t n, std::int64_t c,
                                       std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end,
                                       const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat) {
        batch_norm_relu_max_pool_backward(x, grad_out, grad_x, n, c, h, w, first, end, scale, shift, mean, invstd,
                                          weight, batch_statistics, sum_dy, sum_dy_xhat, false);
    }
};

/// bfloat16 and float16: each channel widened to float32 in cache and run through the float32
/// kernels as a one-channel tensor. The results are PyTorch's three 16-bit layers': the batch norm's
/// output is rounded before a fused ReLU and pooling see it (rounding can tie a window's candidates
/// and moves tiny values to zero), so the ReLU's mask and the pooling's picks come from the rounded
/// values: the saved output's, or, for the pooled kernels (which save only x), found again from x.
template <Float16Type S>
struct BatchNormChannels<S> {
    /// bfloat16's pooled kernels are the float32 fused ones rounding the map in registers (one
    /// pass over a channel each way); float16's run the map, the pooling and the batch norm's
    /// backward one after another on the buffers.
    static constexpr bool kFusedRounding = std::is_same_v<S, BFloat16>;

    template <class SetChannel>
    static void forward(const S* x, S* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                        std::int64_t end, double* mean, double* var, SetChannel&& set_channel, const double* scale,
                        const double* shift, bool relu) {
        float* xs = channel_buffer(ChannelBuffer::x, n * s);
        float* ys = channel_buffer(ChannelBuffer::y, n * s);
        for (std::int64_t ch = first; ch < end; ++ch) {
            gather_channel(x, xs, n, c, s, ch);
            if (mean) {
                batch_norm_statistics(xs, n, 1, s, 0, 1, mean + ch, var + ch);
                set_channel(ch);
            }
            normalized(xs, ys, n, s, scale[ch], shift[ch], relu);
            scatter_channel(ys, y, n, c, s, ch);
        }
    }
    static void backward(const S* x, const S* g, const S* relu_output, S* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t s, std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                         const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat) {
        float* xs = channel_buffer(ChannelBuffer::x, n * s);
        float* gs = channel_buffer(ChannelBuffer::grad_out, n * s);
        float* ys = relu_output ? channel_buffer(ChannelBuffer::y, n * s) : nullptr;
        float* gxs = grad_x ? channel_buffer(ChannelBuffer::grad_x, n * s) : nullptr;
        for (std::int64_t ch = first; ch < end; ++ch) {
            gather_channel(x, xs, n, c, s, ch);
            gather_channel(g, gs, n, c, s, ch);
            if (relu_output) gather_channel(relu_output, ys, n, c, s, ch);
            batch_norm_backward(xs, gs, ys, gxs, n, 1, s, 0, 1, mean + ch, invstd + ch, weight + ch, batch_statistics,
                                sum_dy + ch, sum_dy_xhat + ch);
            if (grad_x) scatter_channel(gxs, grad_x, n, c, s, ch);
        }
    }
    template <class SetChannel>
    static void relu_max_pool_forward(const S* x, S* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, double* mean, double* var,
                                      SetChannel&& set_channel, const double* scale, const double* shift) {
        const std::int64_t pooled = (h / 2) * (w / 2);
        float* xs = channel_buffer(ChannelBuffer::x, n * h * w);
        float* ys = kFusedRounding ? nullptr : channel_buffer(ChannelBuffer::y, n * h * w);
        float* os = channel_buffer(ChannelBuffer::grad_out, n * pooled);
        for (std::int64_t ch = first; ch < end; ++ch) {
            gather_channel(x, xs, n, c, h * w, ch);
            if (mean) {
                batch_norm_statistics(xs, n, 1, h * w, 0, 1, mean + ch, var + ch);
                set_channel(ch);
            }
            if constexpr (kFusedRounding) {
                batch_norm_relu_max_pool_forward(xs, os, n, 1, h, w, 0, 1, scale + ch, shift + ch, true);
            } else {
                normalized(xs, ys, n, h * w, scale[ch], shift[ch], true);
                max_pool_2x2_forward(ys, os, n, h, w);
            }
            scatter_channel(os, out, n, c, pooled, ch);
        }
    }
    static void relu_max_pool_backward(const S* x, const S* grad_out, S* grad_x, std::int64_t n, std::int64_t c,
                                       std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end,
                                       const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat) {
        const std::int64_t pooled = (h / 2) * (w / 2), size = n * h * w;
        float* xs = channel_buffer(ChannelBuffer::x, size);
        float* ys = kFusedRounding ? nullptr : channel_buffer(ChannelBuffer::y, size);
        float* dy = kFusedRounding ? nullptr : channel_buffer(ChannelBuffer::dy, size);
        float* gs = channel_buffer(ChannelBuffer::grad_out, n * pooled);
        float* gxs = grad_x ? channel_buffer(ChannelBuffer::grad_x, size) : nullptr;
        for (std::int64_t ch = first; ch < end; ++ch) {
            gather_channel(x, xs, n, c, h * w, ch);
            gather_channel(grad_out, gs, n, c, pooled, ch);
            if constexpr (kFusedRounding) {
                batch_norm_relu_max_pool_backward(xs, gs, gxs, n, 1, h, w, 0, 1, scale + ch, shift + ch, mean + ch,
                                                  invstd + ch, weight + ch, batch_statistics, sum_dy + ch,
                                                  sum_dy_xhat + ch, true);
            } else {
                normalized(xs, ys, n, h * w, scale[ch], shift[ch], true);
                max_pool_2x2_backward(ys, gs, dy, n, h, w);
                batch_norm_backward(xs, dy, ys, gxs, n, 1, h * w, 0, 1, mean + ch, invstd + ch, weight + ch,
                                    batch_statistics, sum_dy + ch, sum_dy_xhat + ch);
            }
            if (grad_x) scatter_channel(gxs, grad_x, n, c, h * w, ch);
        }
    }

private:
    /// y = x * scale + shift as the float32 kernel computes it, rounded to S (and widened back,
    /// exactly), then PyTorch's ReLU when `relu` (NaN and -0.0 pass).
    /// x and y are [n, s] (the rows the kernel would see in the whole tensor).
    static void normalized(const float* x, float* y, std::int64_t n, std::int64_t s, double scale, double shift,
                           bool relu) {
        batch_norm_transform(x, y, n, 1, s, 0, 1, &scale, &shift, false);
        if constexpr (std::is_same_v<S, BFloat16>) {
            round_to_bfloat16(y, n * s, relu);
            return;
        }
        for (std::int64_t k = 0; k < n * s; ++k) {
            const float rounded = element_cast<float>(element_cast<S>(y[k]));
            y[k] = relu && rounded < 0.0f ? 0.0f : rounded;
        }
    }
};

}  // namespace lazynn::ops::detail
