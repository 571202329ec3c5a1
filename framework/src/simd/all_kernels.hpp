#pragma once
// Every SIMD kernel family's definitions, for the per-architecture translation units
// (simd/arch_*.cpp) to instantiate. Nothing else includes this.

#include "simd/math_simd.hpp"

#include "ops/batch_norm_pool_kernels_simd.hpp"
#include "ops/bfloat16_conversion_simd.hpp"
#include "ops/channel_blocks_simd.hpp"
#include "ops/fused_relu_simd.hpp"
#include "ops/im2col_simd.hpp"
#include "ops/norm_kernels_simd.hpp"
#include "ops/pooling_kernels_simd.hpp"
