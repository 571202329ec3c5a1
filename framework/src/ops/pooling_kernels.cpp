// 2x2 / stride 2 max pooling kernels; see pooling_kernels.hpp. Rows of at least one SIMD register
// of windows run the xsimd kernels (pooling_kernels_simd.hpp) on the widest architecture whose
// register fits the row; narrower rows run the scalar loops here.
#include "ops/pooling_kernels.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

#include <algorithm>
#include <cmath>

namespace lazynn::ops::detail {
namespace {

/// The later candidate where it is larger or NaN: ties keep the earlier one, NaN propagates.
template <class T>
T later_if_larger(T earlier, T later) {
    return (later > earlier || std::isnan(later)) ? later : earlier;
}

}  // namespace

template <class T>
void max_pool_2x2_forward(const T* input, T* output, std::int64_t planes, std::int64_t h, std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    if (simd::fills_narrowest_register<T>(ow)) {
        simd::dispatch_fitting<T>(
            ow, [&](auto arch) { simd::MaxPool2x2Kernels<decltype(arch)>::forward(input, output, planes, h, w); });
        return;
    }
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            const T* top = input + (p * h + 2 * y) * w;
            const T* bottom = top + w;
            T* out = output + (p * oh + y) * ow;
            for (std::int64_t x = 0; x < ow; ++x) {
                out[x] = later_if_larger(later_if_larger(top[2 * x], top[2 * x + 1]),
                                         later_if_larger(bottom[2 * x], bottom[2 * x + 1]));
            }
        }
    }
}

template <class T>
void max_pool_2x2_backward(const T* input, const T* grad_output, T* grad_input, std::int64_t planes, std::int64_t h,
                           std::int64_t w) {
    const std::int64_t oh = h / 2, ow = w / 2;
    if (simd::fills_narrowest_register<T>(ow)) {
        simd::dispatch_fitting<T>(ow, [&](auto arch) {
            simd::MaxPool2x2Kernels<decltype(arch)>::backward(input, grad_output, grad_input, planes, h, w);
        });
        return;
    }
    for (std::int64_t p = 0; p < planes; ++p) {
        for (std::int64_t y = 0; y < oh; ++y) {
            const T* top = input + (p * h + 2 * y) * w;
            const T* bottom = top + w;
            const T* g = grad_output + (p * oh + y) * ow;
            T* grad_top = grad_input + (p * h + 2 * y) * w;
            T* grad_bottom = grad_top + w;
            // PyTorch's scan keeps the first maximum, but every NaN replaces the pick before it.
            for (std::int64_t x = 0; x < ow; ++x) {
                const T v[4] = {top[2 * x], top[2 * x + 1], bottom[2 * x], bottom[2 * x + 1]};
                int pick = 0;
                for (int q = 1; q < 4; ++q) {
                    if (v[q] > v[pick] || std::isnan(v[q])) pick = q;
                }
                T* targets[4] = {grad_top + 2 * x, grad_top + 2 * x + 1, grad_bottom + 2 * x, grad_bottom + 2 * x + 1};
                for (int q = 0; q < 4; ++q) *targets[q] = q == pick ? g[x] : T(0);
            }
            if (w % 2 != 0) grad_top[w - 1] = grad_bottom[w - 1] = T(0);  // the column no window covers
        }
        if (h % 2 != 0) std::fill_n(grad_input + (p * h + h - 1) * w, w, T(0));  // the row no window covers
    }
}

template void max_pool_2x2_forward<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t);
template void max_pool_2x2_forward<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t);
template void max_pool_2x2_backward<float>(const float*, const float*, float*, std::int64_t, std::int64_t,
                                           std::int64_t);
template void max_pool_2x2_backward<double>(const double*, const double*, double*, std::int64_t, std::int64_t,
                                            std::int64_t);

}  // namespace lazynn::ops::detail
