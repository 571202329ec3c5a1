// im2col / col2im; see im2col.hpp.
//
// A column row is built from short image-row segments (11 values for a 13-wide map and a 3-wide
// kernel), so the per-segment cost decides the speed: segments are copied or added 32 bytes at a
// time with fixed-size moves the compiler inlines, instead of a memmove call per segment. Both
// kernels are multiversioned (AVX2 and baseline).
#include "im2col.hpp"

#include "multiversion.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

namespace lazynn::nn::functional::detail {
namespace {

constexpr std::int64_t kChunkBytes = 32;

/// dst[0, n) = src[0, n) for short, non-overlapping segments. The last chunk may overlap the one
/// before it: it rewrites the same values.
template <class T>
LAZYNN_KERNEL_INLINE void copy_segment(T* dst, const T* src, std::int64_t n) {
    constexpr std::int64_t chunk = kChunkBytes / sizeof(T);
    if (n >= chunk) {
        std::int64_t x = 0;
        for (; x + chunk <= n; x += chunk) std::memcpy(dst + x, src + x, kChunkBytes);
        if (x < n) std::memcpy(dst + n - chunk, src + n - chunk, kChunkBytes);
        return;
    }
    constexpr std::int64_t half = chunk / 2;
    if (n >= half) {
        std::memcpy(dst, src, kChunkBytes / 2);
        std::memcpy(dst + n - half, src + n - half, kChunkBytes / 2);
        return;
    }
    for (std::int64_t x = 0; x < n; ++x) dst[x] = src[x];
}

/// dst[0, n) += src[0, n).
template <class T>
LAZYNN_KERNEL_INLINE void add_segment(T* __restrict dst, const T* __restrict src, std::int64_t n) {
    typedef T Vector __attribute__((vector_size(kChunkBytes)));
    constexpr std::int64_t chunk = kChunkBytes / sizeof(T);
    std::int64_t x = 0;
    for (; x + chunk <= n; x += chunk) {
        Vector a, b;
        std::memcpy(&a, dst + x, kChunkBytes);
        std::memcpy(&b, src + x, kChunkBytes);
        a += b;
        std::memcpy(dst + x, &a, kChunkBytes);
    }
    for (; x < n; ++x) dst[x] += src[x];
}

/// The output columns x whose input column x*stride + shift lies inside [0, width): [first, last).
/// Everything outside reads padding.
std::pair<std::int64_t, std::int64_t> valid_columns(std::int64_t out_width, std::int64_t width, std::int64_t stride, std::int64_t shift) {
    std::int64_t first = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
    std::int64_t last = width - shift <= 0 ? 0 : (width - shift + stride - 1) / stride;
    first = std::min(first, out_width);
    last = std::clamp(last, first, out_width);
    return {first, last};
}

}  // namespace

/// The output rows y whose input row y*stride + shift lies inside [0, height): [first, last).
std::pair<std::int64_t, std::int64_t> valid_rows(const ConvGeometry& s, std::int64_t i) {
    return valid_columns(s.oh, s.h, s.sh, i * s.dh - s.pt);
}

// Rows are filled as zero head, a copied (or strided) middle and zero tail: no per-element tests.
// Output rows that read padding are one zero fill per kernel tap; when a tap reads no padding
// columns (the common case) each output row is a single segment copy.
template <class T>
LAZYNN_MULTIVERSION void im2col(const ConvGeometry& s, const T* input, std::int64_t n, std::int64_t g, T* cols) {
    for (std::int64_t c = 0; c < s.cg(); ++c) {
        const T* plane = input + ((n * s.c) + g * s.cg() + c) * s.h * s.w;
        for (std::int64_t i = 0; i < s.kh; ++i) {
            const auto [y_first, y_last] = valid_rows(s, i);
            for (std::int64_t j = 0; j < s.kw; ++j) {
                T* row = cols + ((c * s.kh + i) * s.kw + j) * s.l();
                const std::int64_t shift = j * s.dw - s.pl;   // input column = x * sw + shift
                const auto [first, last] = valid_columns(s.ow, s.w, s.sw, shift);
                std::fill(row, row + y_first * s.ow, T(0));
                std::fill(row + y_last * s.ow, row + s.l(), T(0));
                const T* src = plane + (y_first * s.sh - s.pt + i * s.dh) * s.w + shift;
                T* out = row + y_first * s.ow;
                if (s.sw == 1 && first == 0 && last == s.ow) {
                    for (std::int64_t y = y_first; y < y_last; ++y, src += s.sh * s.w, out += s.ow) copy_segment(out, src, s.ow);
                    continue;
                }
                for (std::int64_t y = y_first; y < y_last; ++y, src += s.sh * s.w, out += s.ow) {
                    for (std::int64_t x = 0; x < first; ++x) out[x] = T(0);
                    if (s.sw == 1) {
                        copy_segment(out + first, src + first, last - first);
                    } else {
                        for (std::int64_t x = first; x < last; ++x) out[x] = src[x * s.sw];
                    }
                    for (std::int64_t x = last; x < s.ow; ++x) out[x] = T(0);
                }
            }
        }
    }
}

template <class T>
LAZYNN_MULTIVERSION void col2im(const ConvGeometry& s, const T* cols, std::int64_t n, std::int64_t g, T* grad_input) {
    for (std::int64_t c = 0; c < s.cg(); ++c) {
        T* plane = grad_input + ((n * s.c) + g * s.cg() + c) * s.h * s.w;
        for (std::int64_t i = 0; i < s.kh; ++i) {
            const auto [y_first, y_last] = valid_rows(s, i);
            for (std::int64_t j = 0; j < s.kw; ++j) {
                const T* row = cols + ((c * s.kh + i) * s.kw + j) * s.l();
                const std::int64_t shift = j * s.dw - s.pl;
                const auto [first, last] = valid_columns(s.ow, s.w, s.sw, shift);
                T* dst = plane + (y_first * s.sh - s.pt + i * s.dh) * s.w + shift;
                const T* src = row + y_first * s.ow;
                for (std::int64_t y = y_first; y < y_last; ++y, dst += s.sh * s.w, src += s.ow) {
                    if (s.sw == 1) {
                        add_segment(dst + first, src + first, last - first);
                    } else {
                        for (std::int64_t x = first; x < last; ++x) dst[x * s.sw] += src[x];
                    }
                }
            }
        }
    }
}

template void im2col<float>(const ConvGeometry&, const float*, std::int64_t, std::int64_t, float*);
template void im2col<double>(const ConvGeometry&, const double*, std::int64_t, std::int64_t, double*);
template void col2im<float>(const ConvGeometry&, const float*, std::int64_t, std::int64_t, float*);
template void col2im<double>(const ConvGeometry&, const double*, std::int64_t, std::int64_t, double*);

}  // namespace lazynn::nn::functional::detail
