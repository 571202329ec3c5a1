// Winograd F(2x2, 3x3); see winograd.hpp. With B^T, G and A^T the F(2x2, 3x3) matrices:
//   U = G g G^T (weights), V = B^T d B (4x4 input tile d), Y = A^T (sum over c of U . V) A.
// Samples are processed in blocks of about kTilesPerBlock tiles: the block's input is copied
// into a zero-padded buffer (so every tile is interior), transformed to V [16][C][T], multiplied
// by U [16][O][C] into M [16][O][T] (16 GEMMs), and M is transformed back into the output. The
// transforms are xsimd kernels (winograd_simd.hpp) on the widest architecture whose register
// fits a tile row.
#include "winograd.hpp"

#include "ops/gemm.hpp"
#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"
#include "tensor_impl.hpp"

#include <algorithm>

namespace lazynn::nn::functional::detail {
namespace {

constexpr std::int64_t kTilesPerBlock = 160;
constexpr std::int64_t kMinChannels = 8;

using TileGrid = simd::WinogradGrid;

/// Smallest tile row the transforms take: one register of the narrowest architecture.
constexpr std::int64_t kMinTileColumns = simd::kNarrowestRegisterBytes / static_cast<std::int64_t>(sizeof(float));

TileGrid grid_of(const ConvGeometry& s) {
    TileGrid g{};
    g.rows = (s.oh + 1) / 2;
    g.cols = (s.ow + 1) / 2;
    g.padded_h = 2 * g.rows + 2;
    g.padded_w = 2 * g.cols + 2;
    return g;
}

/// Copies sample n's input into `padded` [C][padded_h][padded_w] at offset (pt, pl), zeros around.
void pad_sample(const ConvGeometry& s, const TileGrid& g, const float* input, std::int64_t n, float* padded) {
    std::fill(padded, padded + s.c * g.padded_h * g.padded_w, 0.0f);
    const std::int64_t rows = std::min(s.h, g.padded_h - s.pt), cols = std::min(s.w, g.padded_w - s.pl);
    for (std::int64_t c = 0; c < s.c; ++c) {
        const float* src = input + (n * s.c + c) * s.h * s.w;
        float* dst = padded + c * g.padded_h * g.padded_w + s.pt * g.padded_w + s.pl;
        for (std::int64_t y = 0; y < rows; ++y) std::copy(src + y * s.w, src + y * s.w + cols, dst + y * g.padded_w);
    }
}

/// V [16][C][T] for the tiles of one padded sample (simd::WinogradKernels::transform_input).
void transform_input(const float* padded, std::int64_t c_count, const TileGrid& g, float* v, std::int64_t t0, std::int64_t tiles_total) {
    simd::dispatch_fitting<float>(g.cols, [&](auto arch) {
        simd::WinogradKernels<decltype(arch)>::transform_input(padded, c_count, g, v, t0, tiles_total);
    });
}

/// out [O][OH][OW] of one sample from M (simd::WinogradKernels::transform_output).
void transform_output(const float* m, std::int64_t o_count, const TileGrid& g, std::int64_t oh, std::int64_t ow, std::int64_t t0,
                      std::int64_t tiles_total, float* tiles_out, float* out) {
    simd::dispatch_fitting<float>(g.cols, [&](auto arch) {
        simd::WinogradKernels<decltype(arch)>::transform_output(m, o_count, g, oh, ow, t0, tiles_total, tiles_out, out);
    });
}

}  // namespace

bool winograd_applies(const ConvGeometry& s) {
    return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.groups == 1 && s.c >= kMinChannels &&
           s.oh >= 2 && (s.ow + 1) / 2 >= kMinTileColumns;
}

void winograd_transform_weights(const float* weight, std::int64_t o_count, std::int64_t c_count, float* u) {
    const std::int64_t xi_stride = o_count * c_count;
    for (std::int64_t o = 0; o < o_count; ++o) {
        for (std::int64_t c = 0; c < c_count; ++c) {
            const float* g = weight + (o * c_count + c) * 9;
            // G g: 4x3, rows g0, (g0+g1+g2)/2, (g0-g1+g2)/2, g2 (over the kernel's rows).
            float t[4][3];
            for (int k = 0; k < 3; ++k) {
                t[0][k] = g[k];
                t[1][k] = 0.5f * (g[k] + g[3 + k] + g[6 + k]);
                t[2][k] = 0.5f * (g[k] - g[3 + k] + g[6 + k]);
                t[3][k] = g[6 + k];
            }
            for (int i = 0; i < 4; ++i) {
                const float r[4] = {t[i][0], 0.5f * (t[i][0] + t[i][1] + t[i][2]), 0.5f * (t[i][0] - t[i][1] + t[i][2]), t[i][2]};
                for (int j = 0; j < 4; ++j) u[(4 * i + j) * xi_stride + o * c_count + c] = r[j];
            }
        }
    }
}

void winograd_convolve(const ConvGeometry& s, const float* input, const float* u, std::int64_t samples, float* out) {
    const TileGrid g = grid_of(s);
    const std::int64_t per_sample = g.per_sample();
    const std::int64_t block = std::max<std::int64_t>(1, kTilesPerBlock / per_sample);   // samples per block
    const std::int64_t max_tiles = block * per_sample;
    Tensor padded_buffer = lazynn::detail::empty_tensor({s.c * g.padded_h * g.padded_w}, kFloat32);
    Tensor v_buffer = lazynn::detail::empty_tensor({16 * s.c * max_tiles}, kFloat32);
    Tensor m_buffer = lazynn::detail::empty_tensor({16 * s.o * max_tiles}, kFloat32);
    Tensor tiles_out_buffer = lazynn::detail::empty_tensor({4 * per_sample}, kFloat32);
    float* padded = padded_buffer.impl().data<float>();
    float* v = v_buffer.impl().data<float>();
    float* m = m_buffer.impl().data<float>();
    for (std::int64_t n0 = 0; n0 < samples; n0 += block) {
        const std::int64_t count = std::min(block, samples - n0), tiles = count * per_sample;
        for (std::int64_t i = 0; i < count; ++i) {
            pad_sample(s, g, input, n0 + i, padded);
            transform_input(padded, s.c, g, v, i * per_sample, tiles);
        }
        for (std::int64_t xi = 0; xi < 16; ++xi) {
            kernels::gemm<float>(false, false, s.o, tiles, s.c, 1.0f, u + xi * s.o * s.c, s.c, v + xi * s.c * tiles, tiles, 0.0f,
                                 m + xi * s.o * tiles, tiles);
        }
        for (std::int64_t i = 0; i < count; ++i) {
            transform_output(m, s.o, g, s.oh, s.ow, i * per_sample, tiles, tiles_out_buffer.impl().data<float>(), out + (n0 + i) * s.o * s.l());
        }
    }
}

}  // namespace lazynn::nn::functional::detail
