// The fused ReLU's loops; see fused_relu.hpp.
#include "fused_relu.hpp"

#include "multiversion.hpp"

namespace lazynn::nn::functional::detail {
namespace {

template <class T>
LAZYNN_KERNEL_INLINE void relu_values(T* __restrict values, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) values[i] = values[i] < 0 ? T(0) : values[i];
}

template <class T>
LAZYNN_KERNEL_INLINE void relu_gradient(const T* __restrict grad, const T* __restrict output, T* __restrict out,
                                                         std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        const T g = grad[i];   // read unconditionally, so the select vectorises
        out[i] = output[i] <= 0 ? T(0) : g;
    }
}

}  // namespace

// Plain overloads, not templates, carry the multiversioning: with GCC 12, a target_clones
// template whose header declaration lacks the attribute was instantiated without clones.
LAZYNN_MULTIVERSION void relu_span(float* values, std::int64_t n) { relu_values(values, n); }
LAZYNN_MULTIVERSION void relu_span(double* values, std::int64_t n) { relu_values(values, n); }
LAZYNN_MULTIVERSION void relu_backward_span(const float* grad, const float* output, float* out, std::int64_t n) {
    relu_gradient(grad, output, out, n);
}
LAZYNN_MULTIVERSION void relu_backward_span(const double* grad, const double* output, double* out, std::int64_t n) {
    relu_gradient(grad, output, out, n);
}

}  // namespace lazynn::nn::functional::detail
