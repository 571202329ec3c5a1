#pragma once
// The 16-bit floating types: BFloat16 (kBFloat16, safetensors "BF16": float32's range, 8
// significant bits) and Half (kFloat16, IEEE binary16, "F16": up to 65504, 11 significant bits).
// Conversions are bit for bit PyTorch's: round to nearest, ties to even; NaN stays NaN; overflow
// goes to infinity; subnormals are kept. A float64 (or int64) value is rounded to float32 first, as
// PyTorch builds its BFloat16 and Half from a float, so it is rounded twice as in PyTorch.
//
// They are storage types: lazynn computes on them in float32 and rounds each result once, as
// PyTorch's CPU kernels do (docs/tensors-and-autograd.md, "16-bit floating types"). So they have
// conversions and no arithmetic: a kernel that would compute in 16 bits does not compile.

#include <bit>
#include <concepts>
#include <cstdint>
#include <type_traits>

namespace lazynn::detail {

/// The bfloat16 nearest to `value` (ties to even). Every NaN becomes PyTorch's quiet NaN 0x7FC0.
constexpr std::uint16_t bfloat16_bits(float value) noexcept {
    const auto bits = std::bit_cast<std::uint32_t>(value);
    // Adding 0x7FFF plus the lowest kept bit carries into the kept half exactly when the dropped
    // half is above one half, or equal to it with an odd kept half. Infinities pass unchanged; the
    // largest finite floats round up to infinity, as they should. A select rather than an early
    // return for NaN, so conversion loops vectorise.
    const std::uint32_t rounding = 0x7FFFu + ((bits >> 16) & 1u);
    const auto rounded = static_cast<std::uint16_t>((bits + rounding) >> 16);
    return (bits & 0x7FFFFFFFu) > 0x7F800000u ? std::uint16_t{0x7FC0u} : rounded;
}

constexpr float float_from_bfloat16(std::uint16_t bits) noexcept {
    return std::bit_cast<float>(static_cast<std::uint32_t>(bits) << 16);
}

/// Shifts `magnitude` right by `shift` (1..31) and rounds to nearest, ties to even.
constexpr std::uint32_t shift_right_rounding_to_even(std::uint32_t magnitude, unsigned shift) noexcept {
    const std::uint32_t kept = magnitude >> shift;
    const std::uint32_t dropped = magnitude & ((1u << shift) - 1u);
    const std::uint32_t half = 1u << (shift - 1);
    return kept + ((dropped > half || (dropped == half && (kept & 1u))) ? 1u : 0u);
}

/// The binary16 nearest to `value` (ties to even): above 65504 in magnitude (from 65520 up) it is
/// infinity, below 2^-24 a subnormal or zero. A NaN becomes 0x7E00 with the input's sign.
constexpr std::uint16_t half_bits(float value) noexcept {
    const auto bits = std::bit_cast<std::uint32_t>(value);
    const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
    const std::uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return sign | 0x7E00u;   // NaN
    if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // 65520 and up (and infinity)
    const int exponent = static_cast<int>(magnitude >> 23) - 127;
    if (exponent >= -14) {
        // Normal in binary16: re-bias the exponent and round 23 mantissa bits to 10. A carry out of
        // the mantissa steps the exponent up, which is the correctly rounded result.
        const std::uint32_t rebased = magnitude - (static_cast<std::uint32_t>(127 - 15) << 23);
        return sign | static_cast<std::uint16_t>(shift_right_rounding_to_even(rebased, 13));
    }
    if (exponent < -25) return sign;  // below half the smallest subnormal: zero
    // Subnormal in binary16: the value in units of 2^-24, from the 24-bit significand.
    const std::uint32_t significand = (magnitude & 0x7FFFFFu) | 0x800000u;
    const auto shift = static_cast<unsigned>(-exponent - 1);  // 14..24
    return sign | static_cast<std::uint16_t>(shift_right_rounding_to_even(significand, shift));
}

constexpr float float_from_half(std::uint16_t bits) noexcept {
    const std::uint32_t sign = static_cast<std::uint32_t>(bits & 0x8000u) << 16;
    const std::uint32_t exponent = (bits >> 10) & 0x1Fu;
    std::uint32_t mantissa = bits & 0x3FFu;
    if (exponent == 0x1F) return std::bit_cast<float>(sign | 0x7F800000u | (mantissa << 13));  // inf, NaN
    if (exponent != 0) return std::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13));
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: normalise the mantissa into float32's implicit-bit form.
    int e = -14;
    while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        --e;
    }
    return std::bit_cast<float>(sign | (static_cast<std::uint32_t>(e + 127) << 23) | ((mantissa & 0x3FFu) << 13));
}

}  // namespace lazynn::detail

namespace lazynn {

/// One bfloat16 number: the top half of a float32. Explicit conversions from and to arithmetic
/// types (through float32, PyTorch's rounding); compare through float.
///
/// Example:
///     Tensor t = lazynn::ones({3}).to(kBFloat16);
///     const BFloat16* p = t.data_ptr<BFloat16>();
///     float first = static_cast<float>(p[0]);   // 1.0f
struct BFloat16 {
    std::uint16_t bits;

    BFloat16() = default;
    template <class U>
    requires std::is_arithmetic_v<U>
    constexpr explicit BFloat16(U value) : bits(detail::bfloat16_bits(static_cast<float>(value))) {}
    static constexpr BFloat16 from_bits(std::uint16_t raw) {
        BFloat16 b{};
        b.bits = raw;
        return b;
    }
    template <class U>
    requires std::is_arithmetic_v<U>
    constexpr explicit operator U() const { return static_cast<U>(detail::float_from_bfloat16(bits)); }
};

/// One IEEE binary16 number (PyTorch's torch.half / float16). Conversions as BFloat16's.
struct Half {
    std::uint16_t bits;

    Half() = default;
    template <class U>
    requires std::is_arithmetic_v<U>
    constexpr explicit Half(U value) : bits(detail::half_bits(static_cast<float>(value))) {}
    static constexpr Half from_bits(std::uint16_t raw) {
        Half h{};
        h.bits = raw;
        return h;
    }
    template <class U>
    requires std::is_arithmetic_v<U>
    constexpr explicit operator U() const { return static_cast<U>(detail::float_from_half(bits)); }
};

template <class T>
concept Float16Type = std::same_as<T, BFloat16> || std::same_as<T, Half>;

/// static_cast between any two element types, where one 16-bit type to the other goes through
/// float32 (which holds both exactly).
template <class To, class From>
constexpr To element_cast(From value) {
    if constexpr (Float16Type<To> && Float16Type<From> && !std::same_as<To, From>)
        return To(static_cast<float>(value));
    else
        return static_cast<To>(value);
}

static_assert(sizeof(BFloat16) == 2 && sizeof(Half) == 2 && std::is_trivially_copyable_v<BFloat16> &&
              std::is_trivially_copyable_v<Half>);

}  // namespace lazynn
