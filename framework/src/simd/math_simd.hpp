#pragma once
// MathKernels and ActivationKernels (simd/kernels.hpp) on xsimd batches and xsimd's math
// (exp, log, sin, cos, sqrt, log1p, tanh: a few ulps, with libm's values at NaN, ±inf
// and -0.0; exp extended to the full range below). Included only by the per-architecture
// translation units.

#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

#include <limits>
#include <numbers>

namespace lazynn::simd {

namespace math_detail {

/// e^x over the whole range of T. xsimd 8.1's exp returns inf a little below log(max) (from
/// 88.38 for float, where e^x stays finite up to 88.72) and 0 below log(smallest normal) (no
/// subnormal results); lanes beyond |x| > 87 (float) or 708 (double) take (e^{x/2})^2 instead,
/// computed only when a register holds one.
template <class A, class T>
Batch<T, A> exp_extended(Batch<T, A> x) {
    using B = Batch<T, A>;
    constexpr T limit = sizeof(T) == 4 ? T(87) : T(708);
    const B e = xsimd::exp(x);
    const auto outside = xsimd::abs(x) > B(limit);  // false for NaN
    if (!xsimd::any(outside)) return e;
    const B half = xsimd::exp(x * T(0.5));
    return xsimd::select(outside, half * half, e);
}

/// exp_extended, and for double also defined at NaN and ±inf: xsimd 8.1 turns the double exponent
/// into int64 with a scalar cast where the ISA has no such instruction (before AVX-512DQ), which is
/// undefined for NaN and infinities (UBSan's float-cast-overflow; x86 happens to give the right
/// lanes). Lanes beyond +-1e4 (NaN included) are computed from 0 and their values put back: NaN,
/// inf above, 0 below, as libm gives.
template <class A, class T>
Batch<T, A> exp(Batch<T, A> x) {
    using B = Batch<T, A>;
    if constexpr (sizeof(T) == 8) {
        const auto nan = xsimd::isnan(x);
        const auto special = nan | (xsimd::abs(x) > B(1e4));
        if (xsimd::any(special)) {
            const B e = exp_extended<A>(xsimd::select(special, B(0), x));
            const B edge = xsimd::select(x > B(0), B(std::numeric_limits<T>::infinity()), B(0));
            return xsimd::select(special, xsimd::select(nan, x, edge), e);
        }
    }
    return exp_extended<A>(x);
}

template <class A, class T>
void map_function(MathFunction f, const T* x, T* y, std::int64_t n) {
    using B = Batch<T, A>;
    switch (f) {
        case MathFunction::exp:
            return map<A>(x, y, n, [](B v) { return math_detail::exp<A>(v); });
        case MathFunction::log:
            return map<A>(x, y, n, [](B v) { return xsimd::log(v); });
        case MathFunction::sin:
            return map<A>(x, y, n, [](B v) { return xsimd::sin(v); });
        case MathFunction::cos:
            return map<A>(x, y, n, [](B v) { return xsimd::cos(v); });
        case MathFunction::sqrt:
            return map<A>(x, y, n, [](B v) { return xsimd::sqrt(v); });
    }
}

template <class A, class T>
void softplus(const T* x, T* y, std::int64_t n, double beta, double threshold) {
    using B = Batch<T, A>;
    const B b(static_cast<T>(beta)), limit(static_cast<T>(threshold));
    map<A>(x, y, n, [&](B v) {
        const B bx = v * b;
        return xsimd::select(bx > limit, v, xsimd::log1p(math_detail::exp<A>(bx)) / b);
    });
}

constexpr float kTanhScale = 0.7978845608028654f;  // sqrt(2 / pi)
constexpr float kTanhCubic = 0.044715f;

/// sigmoid(x) = 1 / (1 + e^{-x}): 0 where e^{-x} overflows to inf, NaN for NaN.
template <class A>
Batch<float, A> sigmoid(Batch<float, A> x) {
    return 1.0f / (1.0f + math_detail::exp<A>(-x));
}

/// The tanh form's gate 0.5 (1 + tanh(u)) = sigmoid(2u), u = sqrt(2/pi) (x + 0.044715 x^3): the
/// identity needs only exp and loses nothing for negative inputs.
template <class A>
Batch<float, A> tanh_form_gate(Batch<float, A> x) {
    const Batch<float, A> u = kTanhScale * xsimd::fma(Batch<float, A>(kTanhCubic) * x, x * x, x);
    // xsimd's exp directly: where it overflows early (-2u > 88.38, x < -5.9) the gate is below
    // 4e-39 and x times it is within the tolerance of PyTorch's own tail (which cancels to 0).
    return 1.0f / (1.0f + xsimd::exp(-(u + u)));
}

/// The standard normal cdf Phi(x) and pdf phi(x), sharing one exp: erfc(a) = t P(t) e^{-a^2}
/// with a = |x| / sqrt 2 (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7: the formula
/// PyTorch's vectorised float erf uses). One exp instead of xsimd's erfc plus an exp for the pdf:
/// xsimd's erfc made GELU 1.4x (forward) and 1.6x (backward) slower on AVX2. phi(±inf) = 0, so
/// the GELU gradient x phi(x) is NaN there as in PyTorch.
template <class A>
Two<Batch<float, A>> normal_cdf_pdf(Batch<float, A> x) {
    using B = Batch<float, A>;
    const B a = xsimd::abs(x) * (std::numbers::sqrt2_v<float> / 2);
    const B t = 1.0f / xsimd::fma(B(0.3275911f), a, B(1.0f));
    B poly = xsimd::fma(t, B(1.061405429f), B(-1.453152027f));
    poly = xsimd::fma(t, poly, B(1.421413741f));
    poly = xsimd::fma(t, poly, B(-0.284496736f));
    poly = xsimd::fma(t, poly, B(0.254829592f));
    const B e = math_detail::exp<A>(-a * a);  // e^{-x^2 / 2}
    const B half_erfc = 0.5f * (t * poly) * e;
    return {xsimd::select(x < B(0.0f), half_erfc, 1.0f - half_erfc),
            e * (std::numbers::inv_sqrtpi_v<float> * (std::numbers::sqrt2_v<float> / 2))};
}

}  // namespace math_detail

template <class A>
void MathKernels<A>::map(MathFunction f, const float* x, float* y, std::int64_t n) {
    math_detail::map_function<A>(f, x, y, n);
}
template <class A>
void MathKernels<A>::map(MathFunction f, const double* x, double* y, std::int64_t n) {
    math_detail::map_function<A>(f, x, y, n);
}
template <class A>
void MathKernels<A>::softplus(const float* x, float* y, std::int64_t n, double beta, double threshold) {
    math_detail::softplus<A>(x, y, n, beta, threshold);
}
template <class A>
void MathKernels<A>::softplus(const double* x, double* y, std::int64_t n, double beta, double threshold) {
    math_detail::softplus<A>(x, y, n, beta, threshold);
}

template <class A>
void ActivationKernels<A>::tanh_forward(const float* x, float* y, std::int64_t n) {
    simd::map<A>(x, y, n, [](Batch<float, A> v) { return xsimd::tanh(v); });
}

template <class A>
void ActivationKernels<A>::sigmoid_forward(const float* x, float* y, std::int64_t n) {
    simd::map<A>(x, y, n, [](Batch<float, A> v) { return math_detail::sigmoid<A>(v); });
}

template <class A>
void ActivationKernels<A>::silu_forward(const float* x, float* y, std::int64_t n) {
    simd::map<A>(x, y, n, [](Batch<float, A> v) { return v * math_detail::sigmoid<A>(v); });
}

template <class A>
void ActivationKernels<A>::silu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n) {
    map2<A>(grad_y, x, grad_x, n, [](Batch<float, A> g, Batch<float, A> v) {
        const Batch<float, A> s = math_detail::sigmoid<A>(v);
        return g * s * xsimd::fma(v, 1.0f - s, Batch<float, A>(1.0f));
    });
}

template <class A>
void ActivationKernels<A>::gelu_forward(const float* x, float* y, std::int64_t n, bool tanh_approximation) {
    using B = Batch<float, A>;
    if (tanh_approximation) {
        simd::map<A>(x, y, n, [](B v) { return v * math_detail::tanh_form_gate<A>(v); });
    } else {
        simd::map<A>(x, y, n, [](B v) { return v * math_detail::normal_cdf_pdf<A>(v).first; });
    }
}

template <class A>
void ActivationKernels<A>::gelu_backward(const float* grad_y, const float* x, float* grad_x, std::int64_t n,
                                         bool tanh_approximation) {
    using B = Batch<float, A>;
    if (tanh_approximation) {
        map2<A>(grad_y, x, grad_x, n, [](B g, B v) {
            const B s = math_detail::tanh_form_gate<A>(v);
            const B du = math_detail::kTanhScale *
                         xsimd::fma(B(3 * math_detail::kTanhCubic) * v, v, B(1.0f));  // d(2u)/dx = 2 du
            return g * xsimd::fma(v * s * (1.0f - s), du + du, s);
        });
    } else {
        map2<A>(grad_y, x, grad_x, n, [](B g, B v) {
            const auto normal = math_detail::normal_cdf_pdf<A>(v);
            return g * xsimd::fma(v, normal.second, normal.first);
        });
    }
}

}  // namespace lazynn::simd
