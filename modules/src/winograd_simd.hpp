#pragma once
// WinogradKernels (simd/kernels.hpp): the F(2x2, 3x3) input and output transforms on xsimd
// batches, a register of tiles at a time along a tile row (the last block overlaps the one
// before it). Included only by the per-architecture translation units.

#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

namespace lazynn::simd {

namespace winograd_detail {

/// The input transform of B::size tiles starting at tile column tx0 of tile row (r0..r3):
/// stores V[xi] for xi = 0..15 at v + xi * xi_stride.
template <class A>
void transform_input_block(const float* r0, const float* r1, const float* r2, const float* r3, std::int64_t tx0, float* v,
                           std::int64_t xi_stride) {
    using B = Batch<float, A>;
    // Columns 2tx..2tx+3 of each row, split into even and odd columns: d[k] holds column 2tx + k.
    const auto columns = [&](const float* r, B d[4]) {
        const float* p = r + 2 * tx0;
        const auto left = deinterleave<float, A>(B::load_unaligned(p), B::load_unaligned(p + B::size));
        const auto right = deinterleave<float, A>(B::load_unaligned(p + 2), B::load_unaligned(p + 2 + B::size));
        d[0] = left.first, d[1] = left.second, d[2] = right.first, d[3] = right.second;
    };
    B d0[4], d1[4], d2[4], d3[4];
    columns(r0, d0), columns(r1, d1), columns(r2, d2), columns(r3, d3);
    B b[4][4];   // B^T d, then (B^T d) B
    for (int k = 0; k < 4; ++k) {
        b[0][k] = d0[k] - d2[k];
        b[1][k] = d1[k] + d2[k];
        b[2][k] = d2[k] - d1[k];
        b[3][k] = d1[k] - d3[k];
    }
    for (int i = 0; i < 4; ++i) {
        (b[i][0] - b[i][2]).store_unaligned(v + (4 * i + 0) * xi_stride);
        (b[i][1] + b[i][2]).store_unaligned(v + (4 * i + 1) * xi_stride);
        (b[i][2] - b[i][1]).store_unaligned(v + (4 * i + 2) * xi_stride);
        (b[i][1] - b[i][3]).store_unaligned(v + (4 * i + 3) * xi_stride);
    }
}

/// The output transform of B::size tiles: M[xi] read at m + xi * xi_stride; the 2x2 tiles go to
/// rows row0, row1 of the padded output plane.
template <class A>
void transform_output_block(const float* m, std::int64_t xi_stride, float* row0, float* row1) {
    using B = Batch<float, A>;
    B a[16];
    for (int xi = 0; xi < 16; ++xi) a[xi] = B::load_unaligned(m + xi * xi_stride);
    B t0[4], t1[4];   // A^T M: rows 0+1+2 and 1-2-3, per column k
    for (int k = 0; k < 4; ++k) {
        t0[k] = a[k] + a[4 + k] + a[8 + k];
        t1[k] = a[4 + k] - a[8 + k] - a[12 + k];
    }
    const auto top = interleave<float, A>(t0[0] + t0[1] + t0[2], t0[1] - t0[2] - t0[3]);
    const auto bottom = interleave<float, A>(t1[0] + t1[1] + t1[2], t1[1] - t1[2] - t1[3]);
    top.first.store_unaligned(row0);
    top.second.store_unaligned(row0 + B::size);
    bottom.first.store_unaligned(row1);
    bottom.second.store_unaligned(row1 + B::size);
}

}  // namespace winograd_detail

template <class A>
void WinogradKernels<A>::transform_input(const float* padded, std::int64_t c_count, const WinogradGrid& g, float* v, std::int64_t t0,
                                         std::int64_t tiles_total) {
    const std::int64_t plane = g.padded_h * g.padded_w, xi_stride = c_count * tiles_total;
    for (std::int64_t c = 0; c < c_count; ++c) {
        for (std::int64_t ty = 0; ty < g.rows; ++ty) {
            const float* r0 = padded + c * plane + 2 * ty * g.padded_w;
            const float* r1 = r0 + g.padded_w;
            const float* r2 = r1 + g.padded_w;
            const float* r3 = r2 + g.padded_w;
            float* base = v + c * tiles_total + t0 + ty * g.cols;
            over_row<float, A>(g.cols, [&](std::int64_t tx) {
                winograd_detail::transform_input_block<A>(r0, r1, r2, r3, tx, base + tx, xi_stride);
            });
        }
    }
}

template <class A>
void WinogradKernels<A>::transform_output(const float* m, std::int64_t o_count, const WinogradGrid& g, std::int64_t oh, std::int64_t ow,
                                          std::int64_t t0, std::int64_t tiles_total, float* tiles_out, float* out) {
    const std::int64_t xi_stride = o_count * tiles_total, width = 2 * g.cols;
    for (std::int64_t o = 0; o < o_count; ++o) {
        for (std::int64_t ty = 0; ty < g.rows; ++ty) {
            const float* base = m + o * tiles_total + t0 + ty * g.cols;
            float* row0 = tiles_out + 2 * ty * width;
            float* row1 = row0 + width;
            over_row<float, A>(g.cols, [&](std::int64_t tx) {
                winograd_detail::transform_output_block<A>(base + tx, xi_stride, row0 + 2 * tx, row1 + 2 * tx);
            });
        }
        float* plane = out + o * oh * ow;
        for (std::int64_t y = 0; y < oh; ++y) std::memcpy(plane + y * ow, tiles_out + y * width, static_cast<std::size_t>(ow) * sizeof(float));
    }
}

}  // namespace lazynn::simd
