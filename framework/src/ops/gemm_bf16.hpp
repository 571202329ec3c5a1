#pragma once
// bfloat16 GEMM on oneDNN's matmul primitive (internal): bfloat16 operands, float32 accumulation, the
// result rounded once to bfloat16 or kept in float32. It runs only where lazynn::bfloat16_runs_native()
// says so (AMX by default: docs/design.md, decision 22); elsewhere bfloat16 GEMMs widen to float32 and
// run on kernels::gemm.

#include <lazynn/float16.hpp>

#include <cstdint>

namespace lazynn::kernels {

/// Row-major C[m, n] = op(A) op(B) (+ bias[n] on every row) (then max(., 0) when relu), transposes as
/// flags, split across lazynn's threads as kernels::gemm. Out is float or BFloat16.
/// Requires: m, n, k >= 0; lda/ldb/ldc at least the row length of the stored (untransposed) matrix;
/// bias nullptr or n floats; oneDNN has a bfloat16 matmul on this CPU (onednn::has_bfloat16_matmul()).
/// Ensures: C is overwritten; every element is the float32 sum rounded once when Out is BFloat16.
template <class Out>
void gemm_bf16(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const BFloat16* a, std::int64_t lda,
               const BFloat16* b, std::int64_t ldb, const float* bias, bool relu, Out* c, std::int64_t ldc);

extern template void gemm_bf16<float>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const BFloat16*,
                                      std::int64_t, const BFloat16*, std::int64_t, const float*, bool, float*,
                                      std::int64_t);
extern template void gemm_bf16<BFloat16>(bool, bool, std::int64_t, std::int64_t, std::int64_t, const BFloat16*,
                                         std::int64_t, const BFloat16*, std::int64_t, const float*, bool, BFloat16*,
                                         std::int64_t);

}  // namespace lazynn::kernels
