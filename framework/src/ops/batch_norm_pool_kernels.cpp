// Batch norm + ReLU + 2x2 max pooling kernels; see batch_norm_pool_kernels.hpp. Rows of at least
// one SIMD register of windows run the xsimd kernels (batch_norm_pool_kernels_simd.hpp) on the
// widest architecture whose register fits the row; narrower rows run the scalar loops here, which
// follow the same steps one window at a time.
#include "ops/batch_norm_pool_kernels.hpp"

#include "ops/batch_norm_input_gradient.hpp"

#include <lazynn/float16.hpp>

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace lazynn::ops::detail {
namespace {

/// The candidates of one window (top-left, top-right, bottom-left, bottom-right) after the affine
/// map (rounded to bfloat16 when `bfloat16_output`, T float) and the ReLU, and the candidate
/// max_pool2d's backward picks.
template <class T>
struct Window {
    const T* at[4];
    T y[4];
    int pick = 0;

    Window(const T* top, const T* bottom, T scale, T shift, bool bfloat16_output)
        : at{top, top + 1, bottom, bottom + 1} {
        for (int q = 0; q < 4; ++q) {
            T v = *at[q] * scale + shift;
            if constexpr (std::is_same_v<T, float>) {
                if (bfloat16_output) v = static_cast<float>(BFloat16(v));
            }
            y[q] = v < T(0) ? T(0) : v;  // PyTorch's ReLU: NaN and -0.0 pass
        }
        // PyTorch's scan keeps the first maximum, but every NaN replaces the pick before it.
        for (int q = 1; q < 4; ++q) {
            if (y[q] > y[pick] || std::isnan(y[q])) pick = q;
        }
    }
    /// The gradient the pick passes on: g unless ReLU's output there is zero (NaN passes).
    T through_relu(T g) const { return y[pick] <= T(0) ? T(0) : g; }
};

template <class T>
void forward_scalar(const T* x, T* out, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
                    std::int64_t first, std::int64_t end, const double* scale, const double* shift,
                    bool bfloat16_output) {
    const std::int64_t oh = h / 2, ow = w / 2;
    for (std::int64_t ch = first; ch < end; ++ch) {
        const T a = static_cast<T>(scale[ch]), b = static_cast<T>(shift[ch]);
        for (std::int64_t i = 0; i < n; ++i) {
            const T* plane = x + (i * c + ch) * h * w;
            T* pooled = out + (i * c + ch) * oh * ow;
            for (std::int64_t y = 0; y < oh; ++y) {
                for (std::int64_t x0 = 0; x0 < ow; ++x0) {
                    const T* top = plane + 2 * y * w + 2 * x0;
                    const Window<T> win(top, top + w, a, b, bfloat16_output);
                    pooled[y * ow + x0] = win.y[win.pick];
                }
            }
        }
    }
}

template <class T>
void backward_scalar(const T* x, const T* grad_out, T* grad_x, std::int64_t n, std::int64_t c, std::int64_t h,
                     std::int64_t w, std::int64_t first, std::int64_t end, const double* scale, const double* shift,
                     const double* mean, const double* invstd, const double* weight, bool batch_statistics,
                     double* sum_dy, double* sum_dy_xhat, bool bfloat16_output) {
    const std::int64_t oh = h / 2, ow = w / 2;
    const double count = static_cast<double>(n * h * w);
    for (std::int64_t ch = first; ch < end; ++ch) {
        const T a = static_cast<T>(scale[ch]), b = static_cast<T>(shift[ch]), centre = static_cast<T>(mean[ch]);
        double dy = 0, dy_centered = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* plane = x + (i * c + ch) * h * w;
            const T* g = grad_out + (i * c + ch) * oh * ow;
            T plane_dy = 0, plane_dy_centered = 0;
            for (std::int64_t y = 0; y < oh; ++y) {
                for (std::int64_t x0 = 0; x0 < ow; ++x0) {
                    const T* top = plane + 2 * y * w + 2 * x0;
                    const Window<T> win(top, top + w, a, b, bfloat16_output);
                    const T d = win.through_relu(g[y * ow + x0]);
                    plane_dy += d;
                    plane_dy_centered += d * (*win.at[win.pick] - centre);
                }
            }
            // As in the SIMD kernel: with batch statistics an input that is not finite makes the mean so.
            if (!std::isfinite(centre) ||
                (!batch_statistics && !std::all_of(plane, plane + h * w, [](T v) { return std::isfinite(v); }))) {
                plane_dy_centered += unpicked_term(plane, h, w, centre, [&](std::int64_t y, std::int64_t x0) {
                    const T* top = plane + 2 * y * w + 2 * x0;
                    return Window<T>(top, top + w, a, b, bfloat16_output).pick;
                });
            }
            dy += static_cast<double>(plane_dy);
            dy_centered += static_cast<double>(plane_dy_centered);
        }
        sum_dy[ch] = dy;
        sum_dy_xhat[ch] = dy_centered * invstd[ch];
        if (!grad_x) continue;
        const BatchNormInputGradient<T> gradient(mean[ch], invstd[ch], weight[ch], dy, dy_centered, count,
                                                 batch_statistics);
        for (std::int64_t i = 0; i < n; ++i) {
            const T* plane = x + (i * c + ch) * h * w;
            const T* g = grad_out + (i * c + ch) * oh * ow;
            T* grad_plane = grad_x + (i * c + ch) * h * w;
            // Everything as if no window picked it, then the picks.
            for (std::int64_t at = 0; at < h * w; ++at) grad_plane[at] = gradient(T(0), plane[at]);
            for (std::int64_t y = 0; y < oh; ++y) {
                for (std::int64_t x0 = 0; x0 < ow; ++x0) {
                    const T* top = plane + 2 * y * w + 2 * x0;
                    const Window<T> win(top, top + w, a, b, bfloat16_output);
                    const std::ptrdiff_t at = win.at[win.pick] - plane;
                    grad_plane[at] = gradient(win.through_relu(g[y * ow + x0]), plane[at]);
                }
            }
        }
    }
}

}  // namespace

template <class T>
void batch_norm_relu_max_pool_forward(const T* x, T* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                                      const double* shift, bool bfloat16_output) {
    if (!simd::fills_narrowest_register<T>(w / 2)) {
        forward_scalar(x, out, n, c, h, w, first, end, scale, shift, bfloat16_output);
        return;
    }
    simd::dispatch_fitting<T>(w / 2, [&](auto arch) {
        simd::BatchNormPoolKernels<decltype(arch)>::forward(x, out, n, c, h, w, first, end, scale, shift,
                                                            bfloat16_output);
    });
}

template <class T>
void batch_norm_relu_max_pool_backward(const T* x, const T* grad_out, T* grad_x, std::int64_t n, std::int64_t c,
                                       std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end,
                                       const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat, bool bfloat16_output) {
    if (!simd::fills_narrowest_register<T>(w / 2)) {
        backward_scalar(x, grad_out, grad_x, n, c, h, w, first, end, scale, shift, mean, invstd, weight,
                        batch_statistics, sum_dy, sum_dy_xhat, bfloat16_output);
        return;
    }
    simd::dispatch_fitting<T>(w / 2, [&](auto arch) {
        simd::BatchNormPoolKernels<decltype(arch)>::backward(x, grad_out, grad_x, n, c, h, w, first, end, scale, shift,
                                                             mean, invstd, weight, batch_statistics, sum_dy,
                                                             sum_dy_xhat, bfloat16_output);
    });
}

template void batch_norm_relu_max_pool_forward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t,
                                                      std::int64_t, std::int64_t, std::int64_t, const double*,
                                                      const double*, bool);
template void batch_norm_relu_max_pool_forward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t,
                                                       std::int64_t, std::int64_t, std::int64_t, const double*,
                                                       const double*, bool);
template void batch_norm_relu_max_pool_backward<float>(const float*, const float*, float*, std::int64_t, std::int64_t,
                                                       std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                                       const double*, const double*, const double*, const double*,
                                                       const double*, bool, double*, double*, bool);
template void batch_norm_relu_max_pool_backward<double>(const double*, const double*, double*, std::int64_t,
                                                        std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                                        std::int64_t, const double*, const double*, const double*,
                                                        const double*, const double*, bool, double*, double*, bool);

}  // namespace lazynn::ops::detail
