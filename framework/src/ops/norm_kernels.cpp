// Row normalisation kernels; see norm_kernels.hpp. Each call runs the xsimd kernels
// (norm_kernels_simd.hpp) on the architecture simd::dispatch picks.
#include "ops/norm_kernels.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

namespace lazynn::ops::detail {

template <class T>
void normalize_rows_forward(const T* x, const T* weight, const T* bias, T* y, double* mean, double* invstd,
                            std::int64_t rows, std::int64_t len, double eps) {
    simd::dispatch([&](auto arch) {
        simd::NormKernels<decltype(arch)>::normalize_rows_forward(x, weight, bias, y, mean, invstd, rows, len, eps);
    });
}

template <class T>
void normalize_rows_backward(const T* x, const T* g, const T* weight, const double* mean, const double* invstd,
                             T* grad_x, double* grad_weight, double* grad_bias, std::int64_t rows, std::int64_t len) {
    simd::dispatch([&](auto arch) {
        simd::NormKernels<decltype(arch)>::normalize_rows_backward(x, g, weight, mean, invstd, grad_x, grad_weight,
                                                                   grad_bias, rows, len);
    });
}

template <class T>
void batch_norm_statistics(const T* x, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                           std::int64_t end, double* mean, double* var) {
    simd::dispatch([&](auto arch) {
        simd::NormKernels<decltype(arch)>::batch_norm_statistics(x, n, c, s, first, end, mean, var);
    });
}

template <class T>
void batch_norm_transform(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                          std::int64_t end, const double* scale, const double* shift, bool relu) {
    simd::dispatch([&](auto arch) {
        simd::NormKernels<decltype(arch)>::batch_norm_transform(x, y, n, c, s, first, end, scale, shift, relu);
    });
}

template <class T>
void batch_norm_backward(const T* x, const T* g, const T* relu_output, T* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t s, std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                         const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat) {
    simd::dispatch([&](auto arch) {
        simd::NormKernels<decltype(arch)>::batch_norm_backward(x, g, relu_output, grad_x, n, c, s, first, end, mean,
                                                               invstd, weight, batch_statistics, sum_dy, sum_dy_xhat);
    });
}

template void normalize_rows_forward<float>(const float*, const float*, const float*, float*, double*, double*,
                                            std::int64_t, std::int64_t, double);
template void normalize_rows_forward<double>(const double*, const double*, const double*, double*, double*, double*,
                                             std::int64_t, std::int64_t, double);
template void normalize_rows_backward<float>(const float*, const float*, const float*, const double*, const double*,
                                             float*, double*, double*, std::int64_t, std::int64_t);
template void normalize_rows_backward<double>(const double*, const double*, const double*, const double*, const double*,
                                              double*, double*, double*, std::int64_t, std::int64_t);
template void batch_norm_statistics<float>(const float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                           std::int64_t, double*, double*);
template void batch_norm_statistics<double>(const double*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                            std::int64_t, double*, double*);
template void batch_norm_transform<float>(const float*, float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                                          std::int64_t, const double*, const double*, bool);
template void batch_norm_transform<double>(const double*, double*, std::int64_t, std::int64_t, std::int64_t,
                                           std::int64_t, std::int64_t, const double*, const double*, bool);
template void batch_norm_backward<float>(const float*, const float*, const float*, float*, std::int64_t, std::int64_t,
                                         std::int64_t, std::int64_t, std::int64_t, const double*, const double*,
                                         const double*, bool, double*, double*);
template void batch_norm_backward<double>(const double*, const double*, const double*, double*, std::int64_t,
                                          std::int64_t, std::int64_t, std::int64_t, std::int64_t, const double*,
                                          const double*, const double*, bool, double*, double*);

}  // namespace lazynn::ops::detail
