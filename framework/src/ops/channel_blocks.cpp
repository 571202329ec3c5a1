// 16-bit activations between planes and 16-channel blocks; see channel_blocks.hpp.
#include "ops/channel_blocks.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

namespace lazynn::ops::detail {

void planes_to_channel_block(const std::uint16_t* planes, std::int64_t plane_stride, std::int64_t channels,
                             std::int64_t pixels, std::uint16_t* block) {
    simd::dispatch([&](auto arch) {
        simd::ChannelBlockKernels<decltype(arch)>::to_block(planes, plane_stride, channels, pixels, block);
    });
}

void channel_block_to_planes(const std::uint16_t* block, std::int64_t channels, std::int64_t pixels,
                             std::uint16_t* planes, std::int64_t plane_stride) {
    simd::dispatch([&](auto arch) {
        simd::ChannelBlockKernels<decltype(arch)>::from_block(block, channels, pixels, planes, plane_stride);
    });
}

}  // namespace lazynn::ops::detail
