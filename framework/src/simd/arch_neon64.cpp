// The SIMD kernels compiled for AArch64 NEON: this file's flags are set in
// framework/CMakeLists.txt; callers reach these instantiations through simd::dispatch.
#if defined(__aarch64__)

#include "simd/all_kernels.hpp"

namespace lazynn::simd {

template struct MathKernels<xsimd::neon64>;
template struct ActivationKernels<xsimd::neon64>;
template struct ReluKernels<xsimd::neon64>;
template struct BFloat16ConversionKernels<xsimd::neon64>;
template struct ChannelBlockKernels<xsimd::neon64>;
template struct MaxPool2x2Kernels<xsimd::neon64>;
template struct BatchNormPoolKernels<xsimd::neon64>;
template struct NormKernels<xsimd::neon64>;
template struct Im2colKernels<xsimd::neon64>;

}  // namespace lazynn::simd

#endif
