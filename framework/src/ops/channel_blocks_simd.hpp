#pragma once
// ChannelBlockKernels (simd/kernels.hpp): a block of 16 channels is (16 / L) squares of L pixels by
// L channels, L = the float lanes of a register; each square is loaded a row per register (16-bit
// values zero-extended into 32-bit lanes), transposed in registers and stored with the lanes'
// low halves. Pixels past the last whole square move one at a time. Included only by the
// per-architecture translation units.

#include "ops/channel_blocks.hpp"
#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

namespace lazynn::simd {

namespace channel_block_detail {

constexpr std::int64_t kBlock = ops::detail::kChannelBlockWidth;

template <class A>
using Lanes = Batch<std::uint32_t, A>;

}  // namespace channel_block_detail

template <class A>
void ChannelBlockKernels<A>::to_block(const std::uint16_t* planes, std::int64_t plane_stride, std::int64_t channels,
                                      std::int64_t pixels, std::uint16_t* block) {
    using namespace channel_block_detail;
    using B = Batch<float, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    static_assert(kBlock % L == 0, "a channel block is whole squares of a register's lanes");
    std::int64_t p = 0;
    for (; p + L <= pixels; p += L) {
        for (std::int64_t c0 = 0; c0 < kBlock; c0 += L) {
            B rows[L];  // rows[j]: channel c0 + j at pixels p .. p + L
            for (std::int64_t j = 0; j < L; ++j) {
                rows[j] = c0 + j < channels
                              ? xsimd::bitwise_cast<B>(load_zero_extended<A>(planes + (c0 + j) * plane_stride + p))
                              : xsimd::bitwise_cast<B>(Lanes<A>(0u));
            }
            transpose_square<A>(rows);  // rows[i]: pixel p + i, channels c0 .. c0 + L
            for (std::int64_t i = 0; i < L; ++i)
                store_low_halves<A>(block + (p + i) * kBlock + c0, xsimd::bitwise_cast<Lanes<A>>(rows[i]));
        }
    }
    for (; p < pixels; ++p) {
        for (std::int64_t j = 0; j < kBlock; ++j)
            block[p * kBlock + j] = j < channels ? planes[j * plane_stride + p] : std::uint16_t{0};
    }
}

template <class A>
void ChannelBlockKernels<A>::from_block(const std::uint16_t* block, std::int64_t channels, std::int64_t pixels,
                                        std::uint16_t* planes, std::int64_t plane_stride) {
    using namespace channel_block_detail;
    using B = Batch<float, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    std::int64_t p = 0;
    for (; p + L <= pixels; p += L) {
        for (std::int64_t c0 = 0; c0 < channels; c0 += L) {
            B rows[L];  // rows[i]: pixel p + i, channels c0 .. c0 + L
            for (std::int64_t i = 0; i < L; ++i)
                rows[i] = xsimd::bitwise_cast<B>(load_zero_extended<A>(block + (p + i) * kBlock + c0));
            transpose_square<A>(rows);  // rows[j]: channel c0 + j at pixels p .. p + L
            for (std::int64_t j = 0; j < L && c0 + j < channels; ++j)
                store_low_halves<A>(planes + (c0 + j) * plane_stride + p, xsimd::bitwise_cast<Lanes<A>>(rows[j]));
        }
    }
    for (; p < pixels; ++p) {
        for (std::int64_t j = 0; j < channels; ++j) planes[j * plane_stride + p] = block[p * kBlock + j];
    }
}

}  // namespace lazynn::simd
