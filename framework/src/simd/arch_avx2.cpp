// The SIMD kernels compiled for AVX2 with FMA (-mavx2 -mfma): this file's flags are set in
// framework/CMakeLists.txt; callers reach these instantiations through simd::dispatch.
#if defined(__x86_64__) || defined(_M_X64)

#include "simd/all_kernels.hpp"

namespace lazynn::simd {

template struct MathKernels<xsimd::fma3<xsimd::avx2>>;
template struct ActivationKernels<xsimd::fma3<xsimd::avx2>>;
template struct ReluKernels<xsimd::fma3<xsimd::avx2>>;
template struct BFloat16ConversionKernels<xsimd::fma3<xsimd::avx2>>;
template struct ChannelBlockKernels<xsimd::fma3<xsimd::avx2>>;
template struct MaxPool2x2Kernels<xsimd::fma3<xsimd::avx2>>;
template struct BatchNormPoolKernels<xsimd::fma3<xsimd::avx2>>;
template struct NormKernels<xsimd::fma3<xsimd::avx2>>;
template struct Im2colKernels<xsimd::fma3<xsimd::avx2>>;

}  // namespace lazynn::simd

#endif
