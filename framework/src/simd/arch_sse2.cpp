// The SIMD kernels compiled for x86-64 baseline (SSE2): this file's flags are set in
// framework/CMakeLists.txt; callers reach these instantiations through simd::dispatch.
#if defined(__x86_64__) || defined(_M_X64)

#include "simd/all_kernels.hpp"

namespace lazynn::simd {

template struct MathKernels<xsimd::sse2>;
template struct ActivationKernels<xsimd::sse2>;
template struct ReluKernels<xsimd::sse2>;
template struct BFloat16ConversionKernels<xsimd::sse2>;
template struct ChannelBlockKernels<xsimd::sse2>;
template struct MaxPool2x2Kernels<xsimd::sse2>;
template struct BatchNormPoolKernels<xsimd::sse2>;
template struct NormKernels<xsimd::sse2>;
template struct Im2colKernels<xsimd::sse2>;

}  // namespace lazynn::simd

#endif
