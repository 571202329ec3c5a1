// float32 <-> bfloat16 conversion; see bfloat16_conversion.hpp.
#include "ops/bfloat16_conversion.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

namespace lazynn::ops::detail {

// BFloat16 is its 16 bits (a standard-layout struct of one std::uint16_t), so arrays of it are
// arrays of its bit patterns.
static_assert(sizeof(BFloat16) == sizeof(std::uint16_t) && std::is_standard_layout_v<BFloat16>);

void widen_bfloat16(const BFloat16* in, float* out, std::int64_t n) {
    simd::dispatch([&](auto arch) {
        simd::BFloat16ConversionKernels<decltype(arch)>::widen(reinterpret_cast<const std::uint16_t*>(in), out, n);
    });
}

void narrow_bfloat16(const float* in, BFloat16* out, std::int64_t n) {
    simd::dispatch([&](auto arch) {
        simd::BFloat16ConversionKernels<decltype(arch)>::narrow(in, reinterpret_cast<std::uint16_t*>(out), n);
    });
}

void round_to_bfloat16(float* values, std::int64_t n, bool relu) {
    simd::dispatch([&](auto arch) { simd::BFloat16ConversionKernels<decltype(arch)>::round(values, n, relu); });
}

}  // namespace lazynn::ops::detail
