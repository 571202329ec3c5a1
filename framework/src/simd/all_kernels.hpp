#pragma once
// Every SIMD kernel family's definitions, for the per-architecture translation units
// (simd/arch_*.cpp) to instantiate. Nothing else includes this.

#include "simd/math_simd.hpp"

#include "fused_relu_simd.hpp"       // modules/src
#include "im2col_simd.hpp"           // modules/src
#include "norm_kernels_simd.hpp"     // modules/src
#include "pooling_kernels_simd.hpp"  // modules/src
