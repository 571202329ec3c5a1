#pragma once
// BFloat16ConversionKernels (simd/kernels.hpp). round() works on xsimd batches: a float's nearest
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

template <class A>
void BFloat16ConversionKernels<A>::round(float* values, std::int64_t n, bool relu) {
    using B = Batch<float, A>;
    using U = xsimd::batch<std::uint32_t, A>;
    // As lazynn::detail::bfloat16_bits: adding 0x7FFF plus the lowest kept bit carries into the
    // kept half exactly when the dropped half rounds up; NaN becomes the quiet NaN 0x7FC0.
    const U low_half(0xFFFF0000u), bias(0x7FFFu), one(1u);
    const B quiet_nan(lazynn::detail::float_from_bfloat16(0x7FC0u)), zero(0.0f);
    map<A>(values, values, n, [&](B v) {
        const U bits = xsimd::bitwise_cast<U>(v);
        const U rounded = (bits + bias + ((bits >> 16) & one)) & low_half;
        const B r = xsimd::select(xsimd::isnan(v), quiet_nan, xsimd::bitwise_cast<B>(rounded));
        return relu ? xsimd::select(r < zero, zero, r) : r;
    });
}

}  // namespace lazynn::simd
