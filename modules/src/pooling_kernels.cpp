// 2x2 / stride 2 max pooling kernels; see pooling_kernels.hpp.
//
// Windows are processed a vector at a time with GCC vector extensions: two loads per input row
// hold a block of windows, shuffles split them into left and right columns, and the results are
// interleaved back with shuffles. Rows are short (13 windows for a 26-wide map, 5 for an 11-wide
// one), so a row's last, partial block overlaps the previous one, and rows shorter than a 32-byte
// vector use 16-byte vectors.
#include "pooling_kernels.hpp"

#include "multiversion.hpp"
#include "wide_vectors.hpp"

#include <algorithm>

namespace lazynn::nn::functional::detail {
namespace {

using wide::load;
using wide::over_row;
using wide::store;
using wide::Wide;

/// The later candidate where it is larger or NaN: ties keep the earlier one, NaN propagates.
template <class V>
LAZYNN_KERNEL_INLINE V later_if_larger(V earlier, V later) {
    return ((later > earlier) | (later != later)) ? later : earlier;
}

/// A block of W::lanes windows starting at column pair x: the two input rows split into columns.
template <class T, class W>
struct WindowBlock {
    typename W::Vector top_left, top_right, bottom_left, bottom_right;

    LAZYNN_KERNEL_INLINE WindowBlock(const T* top, const T* bottom) {
        const auto t0 = load<W>(top), t1 = load<W>(top + W::lanes), b0 = load<W>(bottom), b1 = load<W>(bottom + W::lanes);
        top_left = __builtin_shuffle(t0, t1, W::even);
        top_right = __builtin_shuffle(t0, t1, W::odd);
        bottom_left = __builtin_shuffle(b0, b1, W::even);
        bottom_right = __builtin_shuffle(b0, b1, W::odd);
    }

    /// Scan order: top-left, top-right, bottom-left, bottom-right.
    LAZYNN_KERNEL_INLINE typename W::Vector maximum() const {
        return later_if_larger(later_if_larger(top_left, top_right), later_if_larger(bottom_left, bottom_right));
    }
};

template <class T, class W>
LAZYNN_KERNEL_INLINE void forward_row(const T* top, const T* bottom, T* out, std::int64_t ow) {
    over_row<W>(ow, [&](std::int64_t x) { store(out + x, WindowBlock<T, W>(top + 2 * x, bottom + 2 * x).maximum()); });
}

/// grad_input of one row of windows, one window at a time: PyTorch's scan keeps the first
/// maximum, but every NaN replaces the pick before it.
template <class T>
void backward_row_scalar(const T* top, const T* bottom, const T* grad_output, T* grad_top, T* grad_bottom, std::int64_t ow) {
    for (std::int64_t x = 0; x < ow; ++x) {
        const T v[4] = {top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]};
        int pick = 0;
        for (int q = 1; q < 4; ++q) {
            if (v[q] > v[pick] || v[q] != v[q]) pick = q;
        }
        T* targets[4] = {grad_top + 2 * x, grad_top + 2 * x + 1, grad_bottom + 2 * x, grad_bottom + 2 * x + 1};
        for (int q = 0; q < 4; ++q) *targets[q] = q == pick ? grad_output[x] : T(0);
    }
}

/// Writes one row's input gradients; a window holding NaN sends the row to the scalar version.
template <class T, class W>
LAZYNN_KERNEL_INLINE void backward_row(const T* top, const T* bottom, const T* grad_output, T* grad_top, T* grad_bottom, std::int64_t ow) {
    typename W::Index nan{};
    over_row<W>(ow, [&](std::int64_t x) {
        const WindowBlock<T, W> block(top + 2 * x, bottom + 2 * x);
        const auto best = block.maximum();
        const typename W::Vector zero{};
        // The gradient goes to the first candidate equal to the maximum: hand it down the scan
        // order until a candidate matches.
        auto left = load<W>(grad_output + x);
        const auto take = [&](typename W::Vector candidate) {
            const auto match = candidate == best;
            const typename W::Vector taken = match ? left : zero;
            left = match ? zero : left;
            return taken;
        };
        const auto g_top_left = take(block.top_left), g_top_right = take(block.top_right), g_bottom_left = take(block.bottom_left);
        const auto g_bottom_right = left;
        store(grad_top + 2 * x, __builtin_shuffle(g_top_left, g_top_right, W::zip_low));
        store(grad_top + 2 * x + W::lanes, __builtin_shuffle(g_top_left, g_top_right, W::zip_high));
        store(grad_bottom + 2 * x, __builtin_shuffle(g_bottom_left, g_bottom_right, W::zip_low));
        store(grad_bottom + 2 * x + W::lanes, __builtin_shuffle(g_bottom_left, g_bottom_right, W::zip_high));
        nan |= best != best;
    });
    bool any_nan = false;
    for (int lane = 0; lane < W::lanes; ++lane) any_nan |= nan[lane] != 0;
    if (any_nan) backward_row_scalar(top, bottom, grad_output, grad_top, grad_bottom, ow);
}

}  // namespace

template <class T>
LAZYNN_MULTIVERSION void max_pool_2x2_forward(const T* input, T* output, std::int64_t planes, std::int64_t h, std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            const T* top = input + (p * h + 2 * y) * w;
            const T* bottom = top + w;
            T* out = output + (p * oh + y) * ow;
            const bool vectorised = wide::with_widest<T>(ow, [&](auto width) { forward_row<T, decltype(width)>(top, bottom, out, ow); });
            if (!vectorised) {
                for (std::int64_t x = 0; x < ow; ++x) {
                    out[x] = later_if_larger(later_if_larger(top[2 * x], top[2 * x + 1]), later_if_larger(bottom[2 * x], bottom[2 * x + 1]));
                }
            }
        }
    }
}

template <class T>
LAZYNN_MULTIVERSION void max_pool_2x2_backward(const T* input, const T* grad_output, T* grad_input, std::int64_t planes, std::int64_t h,
                                               std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            const T* top = input + (p * h + 2 * y) * w;
            const T* bottom = top + w;
            const T* g = grad_output + (p * oh + y) * ow;
            T* grad_top = grad_input + (p * h + 2 * y) * w;
            T* grad_bottom = grad_top + w;
            const bool vectorised = wide::with_widest<T>(
                ow, [&](auto width) { backward_row<T, decltype(width)>(top, bottom, g, grad_top, grad_bottom, ow); });
            if (!vectorised) {
                backward_row_scalar(top, bottom, g, grad_top, grad_bottom, ow);
            }
            if (w % 2 != 0) grad_top[w - 1] = grad_bottom[w - 1] = T(0);   // the column no window covers
        }
        if (h % 2 != 0) std::fill_n(grad_input + (p * h + h - 1) * w, w, T(0));   // the row no window covers
    }
}

template void max_pool_2x2_forward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void max_pool_2x2_forward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t);
template void max_pool_2x2_backward<float>(const float*, const float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void max_pool_2x2_backward<double>(const double*, const double*, double*, std::int64_t, std::int64_t, std::int64_t);

}  // namespace lazynn::nn::functional::detail
