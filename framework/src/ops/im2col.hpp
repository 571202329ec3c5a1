#pragma once
// im2col and its adjoint col2im: the data movement around the GEMMs of conv2d and
// conv_transpose2d (convolution.cpp).

#include <cstdint>
#include <utility>

namespace lazynn::ops::detail {

/// A 2-D convolution's sizes: input, weight, output, stride, top/left padding, dilation, groups.
struct ConvGeometry {
    std::int64_t n, c, h, w;  // input
    std::int64_t o, kh, kw;   // weight
    std::int64_t oh, ow;      // output
    std::int64_t sh, sw, pt, pl, dh, dw, groups;
    std::int64_t cg() const { return c / groups; }
    std::int64_t og() const { return o / groups; }
    std::int64_t k() const { return cg() * kh * kw; }
    std::int64_t l() const { return oh * ow; }
};

/// The output columns x whose input column x*stride + shift lies inside [0, width): [first, last).
/// Everything outside reads padding.
std::pair<std::int64_t, std::int64_t> valid_columns(std::int64_t out_width, std::int64_t width, std::int64_t stride,
                                                    std::int64_t shift);

/// The output rows y whose input row y*stride - pt + i*dh (kernel row i) lies inside [0, h).
std::pair<std::int64_t, std::int64_t> valid_rows(const ConvGeometry& s, std::int64_t i);

/// cols[K, L] of sample n, group g: cols[(c*kh + i)*kw + j, y*ow + x] = input[n, g*cg + c, y*sh - pt + i*dh, x*sw - pl + j*dw],
/// zero where that lies in the padding.
template <class T>
void im2col(const ConvGeometry& s, const T* input, std::int64_t n, std::int64_t g, T* cols);

/// The adjoint of im2col: adds cols[K, L] of sample n, group g into grad_input.
template <class T>
void col2im(const ConvGeometry& s, const T* cols, std::int64_t n, std::int64_t g, T* grad_input);

}  // namespace lazynn::ops::detail
