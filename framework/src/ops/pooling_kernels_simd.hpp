#pragma once
// MaxPool2x2Kernels (simd/kernels.hpp) on xsimd batches. Windows are processed a register at a
// time: two loads per input row hold a block of windows, deinterleaving splits them into left and
// right columns, and interleaving writes gradients back. Rows are short (13 windows for a 26-wide
// map), so a row's last, partial block overlaps the previous one, and the caller picks the widest
// architecture whose register fits a row (dispatch_fitting). Included only by the
// per-architecture translation units.

#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

#include <cmath>

namespace lazynn::simd {

namespace pooling_detail {

/// The later candidate where it is larger or NaN: ties keep the earlier one, NaN propagates.
template <class B>
B later_if_larger(B earlier, B later) {
    return xsimd::select((later > earlier) || xsimd::isnan(later), later, earlier);
}

/// A block of B::size windows: the two input rows split into left and right columns.
template <class T, class A>
struct WindowBlock {
    using B = Batch<T, A>;
    B top_left, top_right, bottom_left, bottom_right;

    WindowBlock(const T* top, const T* bottom) {
        const auto t = deinterleave<T, A>(B::load_unaligned(top), B::load_unaligned(top + B::size));
        const auto b = deinterleave<T, A>(B::load_unaligned(bottom), B::load_unaligned(bottom + B::size));
        top_left = t.first, top_right = t.second, bottom_left = b.first, bottom_right = b.second;
    }

    /// Scan order: top-left, top-right, bottom-left, bottom-right.
    B maximum() const {
        return later_if_larger(later_if_larger(top_left, top_right), later_if_larger(bottom_left, bottom_right));
    }
};

/// grad_input of one row of windows, one window at a time: PyTorch's scan keeps the first
/// maximum, but every NaN replaces the pick before it. (A template on the architecture too, so
/// that each architecture's translation unit has its own copy.)
template <class T, class A>
void backward_row_scalar(const T* top, const T* bottom, const T* grad_output, T* grad_top, T* grad_bottom,
                         std::int64_t ow) {
    for (std::int64_t x = 0; x < ow; ++x) {
        const T v[4] = {top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]};
        int pick = 0;
        for (int q = 1; q < 4; ++q) {
            if (v[q] > v[pick] || std::isnan(v[q])) pick = q;
        }
        T* targets[4] = {grad_top + 2 * x, grad_top + 2 * x + 1, grad_bottom + 2 * x, grad_bottom + 2 * x + 1};
        for (int q = 0; q < 4; ++q) *targets[q] = q == pick ? grad_output[x] : T(0);
    }
}

/// Writes one row's input gradients; a row holding NaN goes to the scalar version.
template <class T, class A>
void backward_row(const T* top, const T* bottom, const T* grad_output, T* grad_top, T* grad_bottom, std::int64_t ow) {
    using B = Batch<T, A>;
    bool any_nan = false;
    over_row<T, A>(ow, [&](std::int64_t x) {
        const WindowBlock<T, A> block(top + 2 * x, bottom + 2 * x);
        const B best = block.maximum();
        const B zero(T(0));
        // The gradient goes to the first candidate equal to the maximum: hand it down the scan
        // order until a candidate matches.
        B left = B::load_unaligned(grad_output + x);
        const auto take = [&](B candidate) {
            const auto match = candidate == best;
            const B taken = xsimd::select(match, left, zero);
            left = xsimd::select(match, zero, left);
            return taken;
        };
        const B g_top_left = take(block.top_left), g_top_right = take(block.top_right),
                g_bottom_left = take(block.bottom_left);
        const auto top_pairs = interleave<T, A>(g_top_left, g_top_right),
                   bottom_pairs = interleave<T, A>(g_bottom_left, left);
        top_pairs.first.store_unaligned(grad_top + 2 * x);
        top_pairs.second.store_unaligned(grad_top + 2 * x + B::size);
        bottom_pairs.first.store_unaligned(grad_bottom + 2 * x);
        bottom_pairs.second.store_unaligned(grad_bottom + 2 * x + B::size);
        any_nan = any_nan || xsimd::any(xsimd::isnan(best));
    });
    if (any_nan) backward_row_scalar<T, A>(top, bottom, grad_output, grad_top, grad_bottom, ow);
}

template <class A, class T>
void forward(const T* input, T* output, std::int64_t planes, std::int64_t h, std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            const T* top = input + (p * h + 2 * y) * w;
            const T* bottom = top + w;
            T* out = output + (p * oh + y) * ow;
            over_row<T, A>(ow, [&](std::int64_t x) {
                WindowBlock<T, A>(top + 2 * x, bottom + 2 * x).maximum().store_unaligned(out + x);
            });
        }
    }
}

template <class A, class T>
void backward(const T* input, const T* grad_output, T* grad_input, std::int64_t planes, std::int64_t h,
              std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            const T* top = input + (p * h + 2 * y) * w;
            const T* bottom = top + w;
            T* grad_top = grad_input + (p * h + 2 * y) * w;
            T* grad_bottom = grad_top + w;
            backward_row<T, A>(top, bottom, grad_output + (p * oh + y) * ow, grad_top, grad_bottom, ow);
            if (w % 2 != 0) grad_top[w - 1] = grad_bottom[w - 1] = T(0);  // the column no window covers
        }
        if (h % 2 != 0) {
            T* last_row = grad_input + (p * h + h - 1) * w;  // the row no window covers
            for (std::int64_t x = 0; x < w; ++x) last_row[x] = T(0);
        }
    }
}

}  // namespace pooling_detail

template <class A>
void MaxPool2x2Kernels<A>::forward(const float* input, float* output, std::int64_t planes, std::int64_t h,
                                   std::int64_t w) {
    pooling_detail::forward<A>(input, output, planes, h, w);
}
template <class A>
void MaxPool2x2Kernels<A>::forward(const double* input, double* output, std::int64_t planes, std::int64_t h,
                                   std::int64_t w) {
    pooling_detail::forward<A>(input, output, planes, h, w);
}
template <class A>
void MaxPool2x2Kernels<A>::backward(const float* input, const float* grad_output, float* grad_input,
                                    std::int64_t planes, std::int64_t h, std::int64_t w) {
    pooling_detail::backward<A>(input, grad_output, grad_input, planes, h, w);
}
template <class A>
void MaxPool2x2Kernels<A>::backward(const double* input, const double* grad_output, double* grad_input,
                                    std::int64_t planes, std::int64_t h, std::int64_t w) {
    pooling_detail::backward<A>(input, grad_output, grad_input, planes, h, w);
}

}  // namespace lazynn::simd
