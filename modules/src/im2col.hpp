#pragma once
// im2col and its adjoint col2im: the data movement around the GEMMs of conv2d and
// conv_transpose2d (conv_kernels.cpp).

#include <cstdint>

namespace lazynn::nn::functional::detail {

/// A 2-D convolution's sizes: input, weight, output, stride, top/left padding, dilation, groups.
struct ConvGeometry {
    std::int64_t n, c, h, w;        // input
    std::int64_t o, kh, kw;         // weight
    std::int64_t oh, ow;            // output
    std::int64_t sh, sw, pt, pl, dh, dw, groups;
    std::int64_t cg() const { return c / groups; }
    std::int64_t og() const { return o / groups; }
    std::int64_t k() const { return cg() * kh * kw; }
    std::int64_t l() const { return oh * ow; }
};

/// cols[K, L] of sample n, group g: cols[(c*kh + i)*kw + j, y*ow + x] = input[n, g*cg + c, y*sh - pt + i*dh, x*sw - pl + j*dw],
/// zero where that lies in the padding.
template <class T>
void im2col(const ConvGeometry& s, const T* input, std::int64_t n, std::int64_t g, T* cols);

/// The adjoint of im2col: adds cols[K, L] of sample n, group g into grad_input.
template <class T>
void col2im(const ConvGeometry& s, const T* cols, std::int64_t n, std::int64_t g, T* grad_input);

}  // namespace lazynn::nn::functional::detail
