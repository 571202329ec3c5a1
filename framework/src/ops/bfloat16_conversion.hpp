#pragma once
// float32 <-> bfloat16 conversion over arrays (internal), on the SIMD kernels of the architecture
// simd::dispatch picks (ops/bfloat16_conversion_simd.hpp): the conversions autocast and every
// bfloat16 op make, and the per-channel widening of batch norm (ops/batch_norm_channels.hpp).
// PyTorch's rounding, as lazynn/float16.hpp's scalar conversions: nearest, ties to even; NaN to
// 0x7FC0; overflow to infinity; subnormals kept.

#include <lazynn/float16.hpp>

#include <cstdint>

namespace lazynn::ops::detail {

/// out[k] = float(in[k]) for k in [0, n).
void widen_bfloat16(const BFloat16* in, float* out, std::int64_t n);

/// out[k] = bfloat16(in[k]) for k in [0, n).
void narrow_bfloat16(const float* in, BFloat16* out, std::int64_t n);

/// values[k] = float(bfloat16(values[k])), then PyTorch's ReLU (NaN and -0.0 pass) when `relu`:
/// what a bfloat16 op's output holds, without leaving float32 storage.
void round_to_bfloat16(float* values, std::int64_t n, bool relu);

}  // namespace lazynn::ops::detail
