#pragma once
// 16-bit activations between PyTorch's layout (a plane of pixels per channel) and oneDNN's blocked
// one (16 channels side by side per pixel), on the SIMD kernels of the architecture simd::dispatch
// picks (ops/channel_blocks_simd.hpp). The bfloat16 convolutions read and write the blocked layout
// (ops/conv_onednn.cpp); oneDNN 2.6 moves 16-bit data between the two with its generic reorder,
// which these transpositions in registers beat 2.5-5x (docs/design.md, decision 27). Values move
// as bits: NaN payloads stay.

#include <cstdint>

namespace lazynn::ops::detail {

/// Channels per block of oneDNN's AVX-512 blocked layouts (nChw16c and its 1-d and 3-d forms).
inline constexpr std::int64_t kChannelBlockWidth = 16;

/// One block from up to 16 planes: block[p * 16 + j] = planes[j * plane_stride + p] for p < pixels and
/// j < channels; block[p * 16 + j] = 0 for channels <= j < 16 (oneDNN's padding of a last block).
/// Requires 1 <= channels <= 16, pixels >= 0, plane_stride >= pixels; block holds pixels * 16 values.
void planes_to_channel_block(const std::uint16_t* planes, std::int64_t plane_stride, std::int64_t channels,
                             std::int64_t pixels, std::uint16_t* block);

/// The inverse: planes[j * plane_stride + p] = block[p * 16 + j] for p < pixels and j < channels; a
/// padded block's other channels are not read. Requires as planes_to_channel_block.
void channel_block_to_planes(const std::uint16_t* block, std::int64_t channels, std::int64_t pixels,
                             std::uint16_t* planes, std::int64_t plane_stride);

}  // namespace lazynn::ops::detail
