#pragma once
// The ReLU that linear_relu and conv2d_relu apply in the same pass as the layer (internal), with
// PyTorch's threshold semantics: NaN passes through, -0.0 stays; the gradient flows where the
// output is above zero or NaN.

#include "ops/elementwise.hpp"
#include "tensor_impl.hpp"

#include <cmath>

namespace lazynn::ops::detail {

/// values = relu(values) over [0, n) (fused_relu.cpp, SIMD-dispatched).
void relu_span(float* values, std::int64_t n);
void relu_span(double* values, std::int64_t n);
void relu_span(BFloat16* values, std::int64_t n);

/// out = grad where output > 0 or NaN, else 0, over [0, n).
void relu_backward_span(const float* grad, const float* output, float* out, std::int64_t n);
void relu_backward_span(const double* grad, const double* output, double* out, std::int64_t n);

/// values = relu(values) over n elements, split across threads when large.
template <class T>
void relu_in_place(T* values, std::int64_t n) {
    kernels::elementwise_chunks(n,
                                [&](std::int64_t begin, std::int64_t end) { relu_span(values + begin, end - begin); });
}

/// The gradient through a ReLU whose output was `output`: grad where output > 0 or NaN, else 0.
inline Tensor relu_backward(const Tensor& grad, const Tensor& output) {
    const Tensor y = lazynn::detail::contiguous_data(output);
    Tensor out = lazynn::detail::empty_tensor(grad.shape(), grad.dtype());
    if (grad.dtype() == kBFloat16) {  // after oneDNN's bfloat16 kernels: compare in float32
        const BFloat16* g = grad.impl().data<BFloat16>();
        const BFloat16* yv = y.impl().data<BFloat16>();
        BFloat16* o = out.impl().data<BFloat16>();
        kernels::elementwise_chunks(grad.numel(), [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t i = begin; i < end; ++i) {
                const float v = static_cast<float>(yv[i]);
                o[i] = v > 0.0f || std::isnan(v) ? g[i] : BFloat16(0.0f);
            }
        });
        return out;
    }
    visit_floating(grad.dtype(), "relu_backward", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* g = grad.impl().data<T>();
        const T* yv = y.impl().data<T>();
        T* o = out.impl().data<T>();
        kernels::elementwise_chunks(grad.numel(), [&](std::int64_t begin, std::int64_t end) {
            relu_backward_span(g + begin, yv + begin, o + begin, end - begin);
        });
    });
    return out;
}

}  // namespace lazynn::ops::detail
