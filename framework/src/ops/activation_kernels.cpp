// Vectorised GELU, tanh, sigmoid and SiLU; see activation_kernels.hpp.
//
// exp is computed inline (range reduction to e^r, |r| <= ln2/2, and a degree-7 Taylor
// polynomial: relative error below 1e-8 before rounding) so the loops vectorise; erf uses
// Abramowitz & Stegun 7.1.26 (absolute error below 1.5e-7), the formula PyTorch's vectorised
// float erf uses too. The tanh form of GELU is evaluated as x * sigmoid(2u), an identity that
// needs only exp and loses no accuracy for negative inputs. Multiversioned (AVX2 and baseline).
#include "ops/activation_kernels.hpp"

#include "multiversion.hpp"

#include <bit>
#include <numbers>

namespace lazynn::kernels {
namespace {

/// e^x for float, vectorisable: no branches, no libm call. Inputs are clamped to [-87, 88] (the
/// range where 2^k stays a normal float); NaN passes through.
LAZYNN_KERNEL_INLINE float exp_inline(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    constexpr float round_shift = 12582912.0f;   // 1.5 * 2^23: adding it rounds to an integer
    const float shifted = x * std::numbers::log2e_v<float> + round_shift;
    const float k = shifted - round_shift;
    // r = x - k ln2, with ln2 split in a short high part (exact products) and a correction.
    const float r = (x - k * 0.693359375f) + k * 2.12194440e-4f;
    float p = 1.0f / 5040;
    p = p * r + 1.0f / 720;
    p = p * r + 1.0f / 120;
    p = p * r + 1.0f / 24;
    p = p * r + 1.0f / 6;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    const std::int32_t k_int = std::bit_cast<std::int32_t>(shifted) - std::bit_cast<std::int32_t>(round_shift);
    return p * std::bit_cast<float>((k_int + 127) << 23);
}

/// Standard normal cdf Phi(x) and pdf phi(x), sharing one exp: erfc(a) = t P(t) e^{-a^2} with
/// a = |x| / sqrt(2) (A&S 7.1.26).
struct Normal {
    float cdf, pdf;
};

LAZYNN_KERNEL_INLINE Normal normal_at(float x) {
    const float a = (x < 0 ? -x : x) * (std::numbers::sqrt2_v<float> / 2);
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    const float poly = t * (0.254829592f + t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
    const float e = exp_inline(-a * a);   // e^{-x^2 / 2}
    const float half_erfc = 0.5f * poly * e;
    return {x < 0 ? half_erfc : 1.0f - half_erfc, e * (std::numbers::inv_sqrtpi_v<float> / std::numbers::sqrt2_v<float>)};
}

constexpr float kTanhScale = 0.7978845608028654f;   // sqrt(2 / pi)
constexpr float kTanhCubic = 0.044715f;

/// sigmoid(2u) for the tanh form: 0.5 (1 + tanh(u)) = 1 / (1 + e^{-2u}); exactly 0 where e^{-2u}
/// overflows, so that gelu(-inf) is NaN as in PyTorch.
LAZYNN_KERNEL_INLINE float tanh_form_gate(float x) {
    const float u = kTanhScale * (x + kTanhCubic * x * x * x);
    const float gate = 1.0f / (1.0f + exp_inline(-2.0f * u));
    return -2.0f * u > 88.0f ? 0.0f : gate;
}

/// 1 / (1 + e^{-x}); exactly 0 where e^{-x} overflows a float (x < -88: the true value is
/// below 7e-39).
LAZYNN_KERNEL_INLINE float sigmoid_inline(float x) {
    const float s = 1.0f / (1.0f + exp_inline(-x));
    return x < -88.0f ? 0.0f : s;
}

/// tanh(x): for |x| < 0.55 the odd Taylor series through x^15 (truncation below 6e-8 relative),
/// elsewhere sign(x) (1 - e) / (1 + e) with e = e^{-2|x|}, where 1 - e no longer cancels.
LAZYNN_KERNEL_INLINE float tanh_inline(float x) {
    const float a = x < 0 ? -x : x;
    const float x2 = x * x;
    float p = -929569.0f / 638512875.0f;
    p = p * x2 + 21844.0f / 6081075.0f;
    p = p * x2 - 1382.0f / 155925.0f;
    p = p * x2 + 62.0f / 2835.0f;
    p = p * x2 - 17.0f / 315.0f;
    p = p * x2 + 2.0f / 15.0f;
    p = p * x2 - 1.0f / 3.0f;
    const float series = x * (1.0f + x2 * p);   // keeps the sign of -0.0
    const float e = exp_inline(-2.0f * a);
    const float outer = (1.0f - e) / (1.0f + e);
    return a < 0.55f ? series : (x < 0 ? -outer : outer);
}

}  // namespace

LAZYNN_MULTIVERSION void tanh_forward(const float* __restrict x, float* __restrict y, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = tanh_inline(x[i]);
}

LAZYNN_MULTIVERSION void sigmoid_forward(const float* __restrict x, float* __restrict y, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = sigmoid_inline(x[i]);
}

LAZYNN_MULTIVERSION void silu_forward(const float* __restrict x, float* __restrict y, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * sigmoid_inline(x[i]);
}

LAZYNN_MULTIVERSION void silu_backward(const float* __restrict grad_y, const float* __restrict x, float* __restrict grad_x, std::int64_t n) {
    for (std::int64_t i = 0; i < n; ++i) {
        const float s = sigmoid_inline(x[i]);
        grad_x[i] = grad_y[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

LAZYNN_MULTIVERSION void gelu_forward(const float* __restrict x, float* __restrict y, std::int64_t n, bool tanh_approximation) {
    if (tanh_approximation) {
        for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * tanh_form_gate(x[i]);
        return;
    }
    for (std::int64_t i = 0; i < n; ++i) y[i] = x[i] * normal_at(x[i]).cdf;
}

LAZYNN_MULTIVERSION void gelu_backward(const float* __restrict grad_y, const float* __restrict x, float* __restrict grad_x, std::int64_t n,
                                       bool tanh_approximation) {
    if (tanh_approximation) {
        for (std::int64_t i = 0; i < n; ++i) {
            const float v = x[i];
            const float s = tanh_form_gate(v);
            const float du = kTanhScale * (1.0f + 3 * kTanhCubic * v * v);   // d(2u)/dx = 2 du
            grad_x[i] = grad_y[i] * (s + v * s * (1.0f - s) * 2.0f * du);
        }
        return;
    }
    for (std::int64_t i = 0; i < n; ++i) {
        const Normal d = normal_at(x[i]);
        grad_x[i] = grad_y[i] * (d.cdf + x[i] * d.pdf);
    }
}

}  // namespace lazynn::kernels
