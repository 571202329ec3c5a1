#pragma once
// Winograd F(2x2, 3x3) convolution for float32 (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015): a 3x3 convolution with stride 1 computed over 4x4 input tiles, each
// giving a 2x2 output tile, as 16 GEMMs (one per tile position) of the transformed weights and the
// transformed input tiles: 16 multiplications per 2x2 outputs instead of 36.

#include "im2col.hpp"

#include <cstdint>

namespace lazynn::nn::functional::detail {

/// Whether conv2d takes the Winograd path: 3x3 kernel, stride 1, dilation 1, one group, enough
/// input channels for the GEMMs to pay (first layers with 1-3 channels stay on im2col).
bool winograd_applies(const ConvGeometry& s);

/// The weights [O, C, 3, 3] transformed to u [16][O][C] (G g G^T per output/input channel pair).
void winograd_transform_weights(const float* weight, std::int64_t o, std::int64_t c, float* u);

/// out[i] = conv(input[i]) for `samples` consecutive samples, without bias: input [C, H, W] and
/// out [O, OH, OW] per sample (zero padding pt/pl at the top/left; bottom/right follow from OH/OW).
void winograd_convolve(const ConvGeometry& s, const float* input, const float* u, std::int64_t samples, float* out);

}  // namespace lazynn::nn::functional::detail
