// Vectorised float32 GELU, tanh, sigmoid and SiLU; see activation_kernels.hpp. The kernels are on
// xsimd (simd/math_simd.hpp: xsimd's exp and tanh, A&S 7.1.26 for the normal cdf), run on the
// architecture simd::dispatch picks.
#include "ops/activation_kernels.hpp"

#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

namespace lazynn::kernels {

void tanh_forward(const float* x, float* y, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ActivationKernels<decltype(arch)>::tanh_forward(x, y, n); });
}

void sigmoid_forward(const float* x, float* y, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ActivationKernels<decltype(arch)>::sigmoid_forward(x, y, n); });
}

void silu_forward(const float* x, float* y, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ActivationKernels<decltype(arch)>::silu_forward(x, y, n); });
}

void silu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n) {
    simd::dispatch([&](auto arch) { simd::ActivationKernels<decltype(arch)>::silu_backward(grad_y, x, grad_x, n); });
}

void gelu_forward(const float* x, float* y, std::int64_t n, bool tanh_approximation) {
    simd::dispatch(
        [&](auto arch) { simd::ActivationKernels<decltype(arch)>::gelu_forward(x, y, n, tanh_approximation); });
}

void gelu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n, bool tanh_approximation) {
    simd::dispatch([&](auto arch) {
        simd::ActivationKernels<decltype(arch)>::gelu_backward(grad_y, x, grad_x, n, tanh_approximation);
    });
}

}  // namespace lazynn::kernels
