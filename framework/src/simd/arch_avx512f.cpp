// The SIMD kernels compiled for AVX-512F (-mavx512f -mfma): this file's flags are set in
// framework/CMakeLists.txt; callers reach these instantiations through simd::dispatch.
#if defined(__x86_64__) || defined(_M_X64)

#include "simd/all_kernels.hpp"

namespace lazynn::simd {

template struct MathKernels<xsimd::avx512f>;
template struct ActivationKernels<xsimd::avx512f>;
template struct ReluKernels<xsimd::avx512f>;
template struct BFloat16ConversionKernels<xsimd::avx512f>;
template struct ChannelBlockKernels<xsimd::avx512f>;
template struct MaxPool2x2Kernels<xsimd::avx512f>;
template struct BatchNormPoolKernels<xsimd::avx512f>;
template struct NormKernels<xsimd::avx512f>;
template struct Im2colKernels<xsimd::avx512f>;

}  // namespace lazynn::simd

#endif
