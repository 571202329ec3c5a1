// The fused ReLU's loops; see fused_relu.hpp. The xsimd kernels are in fused_relu_simd.hpp.
#include "ops/fused_relu.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

namespace lazynn::ops::detail {

void relu_span(float* values, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ReluKernels<decltype(arch)>::relu(values, n); });
}
void relu_span(double* values, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ReluKernels<decltype(arch)>::relu(values, n); });
}
void relu_span(BFloat16* values, std::int64_t n) {
    static_assert(sizeof(BFloat16) == sizeof(std::uint16_t));  // its bits: one std::uint16_t
    simd::dispatch(
        [&](auto arch) { simd::ReluKernels<decltype(arch)>::relu(reinterpret_cast<std::uint16_t*>(values), n); });
}
void relu_backward_span(const float* grad, const float* output, float* out, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ReluKernels<decltype(arch)>::relu_backward(grad, output, out, n); });
}
void relu_backward_span(const double* grad, const double* output, double* out, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ReluKernels<decltype(arch)>::relu_backward(grad, output, out, n); });
}

}  // namespace lazynn::ops::detail
