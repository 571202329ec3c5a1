#pragma once
// ReluKernels (simd/kernels.hpp) on xsimd batches, with PyTorch's threshold semantics: NaN passes
// through (x < 0 is false), -0.0 stays; the gradient flows where the output is above zero or NaN.
// Included only by the per-architecture translation units.

#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

namespace lazynn::simd {

namespace relu_detail {

template <class A, class T>
void relu(T* values, std::int64_t n) {
    using B = Batch<T, A>;
    map<A>(values, values, n, [](B v) { return xsimd::select(v < B(T(0)), B(T(0)), v); });
}

template <class A, class T>
void relu_backward(const T* grad, const T* output, T* out, std::int64_t n) {
    using B = Batch<T, A>;
    map2<A>(grad, output, out, n, [](B g, B y) { return xsimd::select(y <= B(T(0)), B(T(0)), g); });
}

}  // namespace relu_detail

template <class A>
void ReluKernels<A>::relu(float* values, std::int64_t n) {
    relu_detail::relu<A>(values, n);
}
template <class A>
void ReluKernels<A>::relu(double* values, std::int64_t n) {
    relu_detail::relu<A>(values, n);
}
template <class A>
void ReluKernels<A>::relu_backward(const float* grad, const float* output, float* out, std::int64_t n) {
    relu_detail::relu_backward<A>(grad, output, out, n);
}
template <class A>
void ReluKernels<A>::relu_backward(const double* grad, const double* output, double* out, std::int64_t n) {
    relu_detail::relu_backward<A>(grad, output, out, n);
}

}  // namespace lazynn::simd
