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
void ReluKernels<A>::relu(std::uint16_t* bfloat16_bits, std::int64_t n) {
    // On the bits, with no conversion and no branch (a branch on the sign of trained activations
    // mispredicts half the time): the sign bit set on a nonzero magnitude that is not NaN's.
    // xsimd 8 has no 16-bit batches on AVX-512F; the compiler vectorises this loop at the width of
    // each architecture's translation unit.
    for (std::int64_t k = 0; k < n; ++k) {
        const std::uint16_t v = bfloat16_bits[k], magnitude = v & 0x7FFFu;
        const bool negative = (v & 0x8000u) != 0 && magnitude != 0 && magnitude <= 0x7F80u;
        bfloat16_bits[k] = negative ? std::uint16_t{0} : v;
    }
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
