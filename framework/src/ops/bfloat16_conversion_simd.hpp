#pragma once
// BFloat16ConversionKernels (simd/kernels.hpp). round() works on xsimd batches (rounded_to_bfloat16,
// which the fused batch norm kernels use too): a float's nearest
// bfloat16 is the float with its low 16 bits rounded away, so it never leaves 32-bit lanes. widen()
// and narrow() move between 16- and 32-bit lanes, which xsimd 8 has no batch operation for; they
// are plain loops over lazynn/float16.hpp's branch-free conversions, which the compiler vectorises
// at the width of the architecture each translation unit is built for. Included only by the
// per-architecture translation units.

#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

#include <lazynn/float16.hpp>

namespace lazynn::simd {

template <class A>
void BFloat16ConversionKernels<A>::widen(const std::uint16_t* bits, float* out, std::int64_t n) {
    for (std::int64_t k = 0; k < n; ++k) out[k] = lazynn::detail::float_from_bfloat16(bits[k]);
}

template <class A>
void BFloat16ConversionKernels<A>::narrow(const float* in, std::uint16_t* bits, std::int64_t n) {
    for (std::int64_t k = 0; k < n; ++k) bits[k] = lazynn::detail::bfloat16_bits(in[k]);
}

/// Each lane's nearest bfloat16 (ties to even), as a float: lazynn::detail::bfloat16_bits in 32-bit
/// lanes. Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when the
/// dropped half rounds up; NaN becomes the quiet NaN 0x7FC0.
template <class A>
Batch<float, A> rounded_to_bfloat16(Batch<float, A> v) {
    using B = Batch<float, A>;
    using U = xsimd::batch<std::uint32_t, A>;
    const U bits = xsimd::bitwise_cast<U>(v);
    const U rounded = (bits + U(0x7FFFu) + ((bits >> 16) & U(1u))) & U(0xFFFF0000u);
    return xsimd::select(xsimd::isnan(v), B(lazynn::detail::float_from_bfloat16(0x7FC0u)),
                         xsimd::bitwise_cast<B>(rounded));
}

template <class A>
void BFloat16ConversionKernels<A>::round(float* values, std::int64_t n, bool relu) {
    using B = Batch<float, A>;
    const B zero(0.0f);
    map<A>(values, values, n, [&](B v) {
        const B r = rounded_to_bfloat16<A>(v);
        return relu ? xsimd::select(r < zero, zero, r) : r;
    });
}

}  // namespace lazynn::simd
