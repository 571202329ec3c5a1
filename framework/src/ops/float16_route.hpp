#pragma once
// Which route a 16-bit GEMM-like op (matmul, linear, convolutions) takes (internal): through float32
// kernels on widened copies, or as is on oneDNN (docs/design.md, decisions 20 and 22).

#include "ops/onednn.hpp"
#include "tensor_impl.hpp"

namespace lazynn::ops::detail {

/// The 16-bit dtype the op's operands share and must widen from (its result rounded back to it once),
/// or kFloat32 when the op runs as is: on float32/float64 operands, mixed dtypes, or bfloat16 operands
/// oneDNN's bfloat16 kernels take (onednn::native_float16).
inline Dtype float16_to_widen(std::initializer_list<const Tensor*> operands) {
    const Dtype half = lazynn::detail::shared_float16(operands);
    return onednn::native_float16(half) ? kFloat32 : half;
}

/// Whether an op whose operands have `dtype` runs on oneDNN's primitives: float32, or bfloat16 when
/// its bfloat16 kernels are in use.
inline bool runs_on_onednn(Dtype dtype) { return dtype == kFloat32 || onednn::native_float16(dtype); }

}  // namespace lazynn::ops::detail
