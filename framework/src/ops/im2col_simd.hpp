#pragma once
// Im2colKernels (simd/kernels.hpp). A column row is built from short image-row segments (11
// values for a 13-wide map and a 3-wide kernel), so the per-segment cost decides the speed:
// segments are copied in fixed-size moves of the architecture's register width (halving for
// shorter segments), and added a register at a time, instead of a memmove call per segment.
// Included only by the per-architecture translation units.

#include "ops/im2col.hpp"
#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

#include <cstring>

namespace lazynn::simd {

namespace im2col_detail {

/// dst[0, n) = src[0, n) in moves of Bytes, for n * sizeof(T) >= Bytes; the last move may overlap
/// the one before it (it rewrites the same values).
template <class A, std::int64_t Bytes, class T>
void copy_in_moves(T* dst, const T* src, std::int64_t n) {
    constexpr auto chunk = Bytes / static_cast<std::int64_t>(sizeof(T));
    std::int64_t x = 0;
    for (; x + chunk <= n; x += chunk) std::memcpy(dst + x, src + x, Bytes);
    if (x < n) std::memcpy(dst + n - chunk, src + n - chunk, Bytes);
}

/// dst[0, n) = src[0, n) for short, non-overlapping segments.
template <class A, class T>
void copy_segment(T* dst, const T* src, std::int64_t n) {
    constexpr auto widest = static_cast<std::int64_t>(A::alignment());
    const std::int64_t bytes = n * static_cast<std::int64_t>(sizeof(T));
    if (bytes >= widest) return copy_in_moves<A, widest>(dst, src, n);
    if constexpr (widest >= 64) {
        if (bytes >= 32) return copy_in_moves<A, 32>(dst, src, n);
    }
    if constexpr (widest >= 32) {
        if (bytes >= 16) return copy_in_moves<A, 16>(dst, src, n);
    }
    for (std::int64_t x = 0; x < n; ++x) dst[x] = src[x];
}

/// dst[0, n) += src[0, n).
template <class A, class T>
void add_segment(T* dst, const T* src, std::int64_t n) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    std::int64_t x = 0;
    for (; x + L <= n; x += L) (B::load_unaligned(dst + x) + B::load_unaligned(src + x)).store_unaligned(dst + x);
    for (; x < n; ++x) dst[x] += src[x];
}

template <class A, class T>
void fill_zero(T* first, T* last) {
    for (; first != last; ++first) *first = T(0);
}

// Rows are filled as zero head, a copied (or strided) middle and zero tail: no per-element tests.
// Output rows that read padding are one zero fill per kernel tap; when a tap reads no padding
// columns (the common case) each output row is a single segment copy.
template <class A, class T>
void im2col(const ops::detail::ConvGeometry& s, const T* input, std::int64_t n, std::int64_t g, T* cols) {
    using ops::detail::valid_columns;
    using ops::detail::valid_rows;
    for (std::int64_t c = 0; c < s.cg(); ++c) {
        const T* plane = input + ((n * s.c) + g * s.cg() + c) * s.h * s.w;
        for (std::int64_t i = 0; i < s.kh; ++i) {
            const auto [y_first, y_last] = valid_rows(s, i);
            for (std::int64_t j = 0; j < s.kw; ++j) {
                T* row = cols + ((c * s.kh + i) * s.kw + j) * s.l();
                const std::int64_t shift = j * s.dw - s.pl;  // input column = x * sw + shift
                const auto [first, last] = valid_columns(s.ow, s.w, s.sw, shift);
                fill_zero<A>(row, row + y_first * s.ow);
                fill_zero<A>(row + y_last * s.ow, row + s.l());
                const T* src = plane + (y_first * s.sh - s.pt + i * s.dh) * s.w + shift;
                T* out = row + y_first * s.ow;
                if (s.sw == 1 && first == 0 && last == s.ow) {
                    for (std::int64_t y = y_first; y < y_last; ++y, src += s.sh * s.w, out += s.ow)
                        copy_segment<A>(out, src, s.ow);
                    continue;
                }
                for (std::int64_t y = y_first; y < y_last; ++y, src += s.sh * s.w, out += s.ow) {
                    for (std::int64_t x = 0; x < first; ++x) out[x] = T(0);
                    if (s.sw == 1) {
                        copy_segment<A>(out + first, src + first, last - first);
                    } else {
                        for (std::int64_t x = first; x < last; ++x) out[x] = src[x * s.sw];
                    }
                    for (std::int64_t x = last; x < s.ow; ++x) out[x] = T(0);
                }
            }
        }
    }
}

template <class A, class T>
void col2im(const ops::detail::ConvGeometry& s, const T* cols, std::int64_t n, std::int64_t g, T* grad_input) {
    using ops::detail::valid_columns;
    using ops::detail::valid_rows;
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
                        add_segment<A>(dst + first, src + first, last - first);
                    } else {
                        for (std::int64_t x = first; x < last; ++x) dst[x * s.sw] += src[x];
                    }
                }
            }
        }
    }
}

}  // namespace im2col_detail

template <class A>
void Im2colKernels<A>::im2col(const ConvGeometry& s, const float* input, std::int64_t n, std::int64_t g, float* cols) {
    im2col_detail::im2col<A>(s, input, n, g, cols);
}
template <class A>
void Im2colKernels<A>::im2col(const ConvGeometry& s, const double* input, std::int64_t n, std::int64_t g,
                              double* cols) {
    im2col_detail::im2col<A>(s, input, n, g, cols);
}
template <class A>
void Im2colKernels<A>::col2im(const ConvGeometry& s, const float* cols, std::int64_t n, std::int64_t g,
                              float* grad_input) {
    im2col_detail::col2im<A>(s, cols, n, g, grad_input);
}
template <class A>
void Im2colKernels<A>::col2im(const ConvGeometry& s, const double* cols, std::int64_t n, std::int64_t g,
                              double* grad_input) {
    im2col_detail::col2im<A>(s, cols, n, g, grad_input);
}

}  // namespace lazynn::simd
