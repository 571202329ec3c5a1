// im2col / col2im; see im2col.hpp. The loops are xsimd kernels (im2col_simd.hpp) on the
// architecture simd::dispatch picks; the index ranges are computed here.
#include "ops/im2col.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

#include <algorithm>

namespace lazynn::ops::detail {

std::pair<std::int64_t, std::int64_t> valid_columns(std::int64_t out_width, std::int64_t width, std::int64_t stride,
                                                    std::int64_t shift) {
    std::int64_t first = shift >= 0 ? 0 : (-shift + stride - 1) / stride;
    std::int64_t last = width - shift <= 0 ? 0 : (width - shift + stride - 1) / stride;
    first = std::min(first, out_width);
    last = std::clamp(last, first, out_width);
    return {first, last};
}

std::pair<std::int64_t, std::int64_t> valid_rows(const ConvGeometry& s, std::int64_t i) {
    return valid_columns(s.oh, s.h, s.sh, i * s.dh - s.pt);
}

template <class T>
void im2col(const ConvGeometry& s, const T* input, std::int64_t n, std::int64_t g, T* cols) {
    simd::dispatch([&](auto arch) { simd::Im2colKernels<decltype(arch)>::im2col(s, input, n, g, cols); });
}

template <class T>
void col2im(const ConvGeometry& s, const T* cols, std::int64_t n, std::int64_t g, T* grad_input) {
    simd::dispatch([&](auto arch) { simd::Im2colKernels<decltype(arch)>::col2im(s, cols, n, g, grad_input); });
}

template void im2col<float>(const ConvGeometry&, const float*, std::int64_t, std::int64_t, float*);
template void im2col<double>(const ConvGeometry&, const double*, std::int64_t, std::int64_t, double*);
template void col2im<float>(const ConvGeometry&, const float*, std::int64_t, std::int64_t, float*);
template void col2im<double>(const ConvGeometry&, const double*, std::int64_t, std::int64_t, double*);

}  // namespace lazynn::ops::detail
