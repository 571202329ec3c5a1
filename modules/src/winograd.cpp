// Winograd F(2x2, 3x3); see winograd.hpp. With B^T, G and A^T the F(2x2, 3x3) matrices:
//   U = G g G^T (weights), V = B^T d B (4x4 input tile d), Y = A^T (sum over c of U . V) A.
// Samples are processed in blocks of about kTilesPerBlock tiles: the block's input is copied
// into a zero-padded buffer (so every tile is interior), transformed to V [16][C][T], multiplied
// by U [16][O][C] into M [16][O][T] (16 GEMMs), and M is transformed back into the output.
#include "winograd.hpp"

#include "multiversion.hpp"
#include "ops/gemm.hpp"
#include "tensor_impl.hpp"
#include "wide_vectors.hpp"

#include <algorithm>

namespace lazynn::nn::functional::detail {
namespace {

constexpr std::int64_t kTilesPerBlock = 160;
constexpr std::int64_t kMinChannels = 8;

/// Tiles per sample and the padded tile-grid size.
struct TileGrid {
    std::int64_t rows, cols;           // tiles
    std::int64_t padded_h, padded_w;   // input rows/cols covered: 2 * tiles + 2
    std::int64_t per_sample() const { return rows * cols; }
};

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

/// The input transform of W::lanes tiles starting at tile column tx0 of tile row (r0..r3):
/// stores V[xi] for xi = 0..15 at v + xi * xi_stride.
template <class W>
LAZYNN_KERNEL_INLINE void transform_input_block(const float* r0, const float* r1, const float* r2, const float* r3, std::int64_t tx0, float* v,
                                                std::int64_t xi_stride) {
    using V = typename W::Vector;
    // Columns 2tx..2tx+3 of each row, split by the pair shuffles: d[k] holds column 2tx + k.
    auto columns = [&](const float* r, V d[4]) {
        const float* p = r + 2 * tx0;
        const V a = wide::load<W>(p), b = wide::load<W>(p + W::lanes);
        const V c = wide::load<W>(p + 2), e = wide::load<W>(p + 2 + W::lanes);
        d[0] = __builtin_shuffle(a, b, W::even);
        d[1] = __builtin_shuffle(a, b, W::odd);
        d[2] = __builtin_shuffle(c, e, W::even);
        d[3] = __builtin_shuffle(c, e, W::odd);
    };
    V d0[4], d1[4], d2[4], d3[4];
    columns(r0, d0), columns(r1, d1), columns(r2, d2), columns(r3, d3);
    V b[4][4];   // B^T d, then (B^T d) B
    for (int k = 0; k < 4; ++k) {
        b[0][k] = d0[k] - d2[k];
        b[1][k] = d1[k] + d2[k];
        b[2][k] = d2[k] - d1[k];
        b[3][k] = d1[k] - d3[k];
    }
    for (int i = 0; i < 4; ++i) {
        wide::store(v + (4 * i + 0) * xi_stride, b[i][0] - b[i][2]);
        wide::store(v + (4 * i + 1) * xi_stride, b[i][1] + b[i][2]);
        wide::store(v + (4 * i + 2) * xi_stride, b[i][2] - b[i][1]);
        wide::store(v + (4 * i + 3) * xi_stride, b[i][1] - b[i][3]);
    }
}

/// V [16][C][T] for the tiles of one padded sample, written at tile offset t0 (row stride T).
/// Needs at least 4 tiles per row (the 16-byte vectors); narrower maps stay on im2col.
LAZYNN_MULTIVERSION void transform_input(const float* padded, std::int64_t c_count, const TileGrid& g, float* v, std::int64_t t0,
                                         std::int64_t tiles_total) {
    const std::int64_t plane = g.padded_h * g.padded_w, xi_stride = c_count * tiles_total;
    for (std::int64_t c = 0; c < c_count; ++c) {
        for (std::int64_t ty = 0; ty < g.rows; ++ty) {
            const float* r0 = padded + c * plane + 2 * ty * g.padded_w;
            const float* r1 = r0 + g.padded_w;
            const float* r2 = r1 + g.padded_w;
            const float* r3 = r2 + g.padded_w;
            float* base = v + c * tiles_total + t0 + ty * g.cols;
            wide::with_widest<float>(g.cols, [&](auto width) {
                using W = decltype(width);
                wide::over_row<W>(g.cols, [&](std::int64_t tx) { transform_input_block<W>(r0, r1, r2, r3, tx, base + tx, xi_stride); });
            });
        }
    }
}

/// The output transform of W::lanes tiles of tile row ty, output channel o: M[xi] read at
/// m + xi * xi_stride; the 2x2 tiles go to rows y, y+1 of the padded output plane.
template <class W>
LAZYNN_KERNEL_INLINE void transform_output_block(const float* m, std::int64_t xi_stride, float* row0, float* row1) {
    using V = typename W::Vector;
    V a[16];
    for (int xi = 0; xi < 16; ++xi) a[xi] = wide::load<W>(m + xi * xi_stride);
    V t0[4], t1[4];   // A^T M: rows 0+1+2 and 1-2-3, per column k
    for (int k = 0; k < 4; ++k) {
        t0[k] = a[k] + a[4 + k] + a[8 + k];
        t1[k] = a[4 + k] - a[8 + k] - a[12 + k];
    }
    const V y00 = t0[0] + t0[1] + t0[2], y01 = t0[1] - t0[2] - t0[3];
    const V y10 = t1[0] + t1[1] + t1[2], y11 = t1[1] - t1[2] - t1[3];
    wide::store(row0, __builtin_shuffle(y00, y01, W::zip_low));
    wide::store(row0 + W::lanes, __builtin_shuffle(y00, y01, W::zip_high));
    wide::store(row1, __builtin_shuffle(y10, y11, W::zip_low));
    wide::store(row1 + W::lanes, __builtin_shuffle(y10, y11, W::zip_high));
}

/// out [O][OH][OW] of one sample from M [16][O][T] (its tiles at offset t0), through the padded
/// plane `tiles_out` [2 rows][2 cols] per channel (whole 2x2 tiles), cropped to OH x OW.
LAZYNN_MULTIVERSION void transform_output(const float* m, std::int64_t o_count, const TileGrid& g, std::int64_t oh, std::int64_t ow,
                                          std::int64_t t0, std::int64_t tiles_total, float* tiles_out, float* out) {
    const std::int64_t xi_stride = o_count * tiles_total, width = 2 * g.cols;
    for (std::int64_t o = 0; o < o_count; ++o) {
        for (std::int64_t ty = 0; ty < g.rows; ++ty) {
            const float* base = m + o * tiles_total + t0 + ty * g.cols;
            float* row0 = tiles_out + 2 * ty * width;
            float* row1 = row0 + width;
            wide::with_widest<float>(g.cols, [&](auto vector_width) {
                using W = decltype(vector_width);
                wide::over_row<W>(g.cols, [&](std::int64_t tx) { transform_output_block<W>(base + tx, xi_stride, row0 + 2 * tx, row1 + 2 * tx); });
            });
        }
        float* plane = out + o * oh * ow;
        for (std::int64_t y = 0; y < oh; ++y) std::copy(tiles_out + y * width, tiles_out + y * width + ow, plane + y * ow);
    }
}

}  // namespace

bool winograd_applies(const ConvGeometry& s) {
    return s.kh == 3 && s.kw == 3 && s.sh == 1 && s.sw == 1 && s.dh == 1 && s.dw == 1 && s.groups == 1 && s.c >= kMinChannels &&
           s.oh >= 2 && (s.ow + 1) / 2 >= wide::Wide<float, 16>::lanes;
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
