#pragma once
// Vectorised float32 kernels (xsimd, dispatched per CPU) for activations whose scalar forms call libm (erf, exp,
// tanh): GELU (exact and tanh-approximated), tanh, sigmoid and SiLU. float64 keeps the libm
// functions (gradcheck).

#include <cstdint>

namespace lazynn::kernels {

/// y = gelu(x) over n elements.
void gelu_forward(const float* x, float* y, std::int64_t n, bool tanh_approximation);

/// grad_x = grad_y * gelu'(x) over n elements.
void gelu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n, bool tanh_approximation);

/// y = tanh(x), y = sigmoid(x), y = x * sigmoid(x) over n elements.
void tanh_forward(const float* x, float* y, std::int64_t n);
void sigmoid_forward(const float* x, float* y, std::int64_t n);
void silu_forward(const float* x, float* y, std::int64_t n);

/// grad_x = grad_y * silu'(x) over n elements.
void silu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n);

}  // namespace lazynn::kernels
