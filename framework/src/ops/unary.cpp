// Unary math and activation functions with their backward.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <numbers>

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

namespace {

/// Records a backward that multiplies the incoming gradient by f(saved) elementwise, where the
/// saved tensor is the input (use_output false) or the output.
template <class Derivative>
void record_pointwise(Tensor& out, const Tensor& in, const char* name, bool use_output, Derivative derivative) {
    if (!needs_grad({&in})) return;
    const Dtype in_dtype = in.dtype();
    record(out, name, {in}, [saved = SavedTensor(use_output ? out : in), derivative, in_dtype](const Tensor& g) {
        const Tensor s = saved.unpack();
        return std::vector<Tensor>{kernels::binary(g, s, "backward", derivative).to(in_dtype)};
    }, true);
}

template <class T>
T normal_cdf(T x) { return T(0.5) * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2))); }

template <class T>
T normal_pdf(T x) { return std::exp(T(-0.5) * x * x) * T(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2); }

constexpr double kGeluTanhScale = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluTanhCubic = 0.044715;

template <class T>
T stable_sigmoid(T x) {
    if (x >= 0) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}

}  // namespace

Tensor Tensor::neg() const {
    Tensor out = kernels::unary(*this, "neg", [](auto x) { return -x; }, false);
    if (needs_grad({this})) record(out, "NegBackward0", {*this}, [](const Tensor& g) { return std::vector<Tensor>{-g}; }, false);
    return out;
}

Tensor Tensor::abs() const {
    Tensor out = kernels::unary(*this, "abs", [](auto x) { return x < 0 ? -x : x; }, false);
    record_pointwise(out, *this, "AbsBackward0", false, [](auto g, auto x) {
        return x > 0 ? g : (x < 0 ? -g : decltype(g)(0));
    });
    return out;
}

Tensor Tensor::exp() const {
    Tensor out = kernels::unary(*this, "exp", [](auto x) { return std::exp(x); });
    record_pointwise(out, *this, "ExpBackward0", true, [](auto g, auto y) { return g * y; });
    return out;
}

Tensor Tensor::log() const {
    Tensor out = kernels::unary(*this, "log", [](auto x) { return std::log(x); });
    record_pointwise(out, *this, "LogBackward0", false, [](auto g, auto x) { return g / x; });
    return out;
}

Tensor Tensor::sqrt() const {
    Tensor out = kernels::unary(*this, "sqrt", [](auto x) { return std::sqrt(x); });
    record_pointwise(out, *this, "SqrtBackward0", true, [](auto g, auto y) { return g / (2 * y); });
    return out;
}

Tensor Tensor::rsqrt() const {
    Tensor out = kernels::unary(*this, "rsqrt", [](auto x) { return 1 / std::sqrt(x); });
    record_pointwise(out, *this, "RsqrtBackward0", true, [](auto g, auto y) { return decltype(g)(-0.5) * g * y * y * y; });
    return out;
}

Tensor Tensor::pow(double exponent) const {
    if (exponent == 2) {
        // Squares are common (losses, norms): a multiply, not a call to pow per element.
        Tensor out = kernels::unary(*this, "pow", [](auto x) { return x * x; }, false);
        record_pointwise(out, *this, "PowBackward0", false, [](auto g, auto x) { return decltype(g)(2) * g * x; });
        return out;
    }
    Tensor out = kernels::unary(*this, "pow", [exponent](auto x) { return std::pow(x, exponent); },
                                std::floor(exponent) != exponent || exponent < 0);
    record_pointwise(out, *this, "PowBackward0", false, [exponent](auto g, auto x) {
        using T = decltype(g);
        return exponent == 0 ? T(0) : static_cast<T>(g * exponent * std::pow(x, exponent - 1));
    });
    return out;
}

Tensor Tensor::clamp(double min, double max) const {
    if (min > max) throw ValueError("clamp: min (" + std::to_string(min) + ") must not exceed max (" + std::to_string(max) + ")");
    Tensor out = kernels::unary(*this, "clamp", [min, max](auto x) {
        using T = decltype(x);
        return x < T(min) ? T(min) : (x > T(max) ? T(max) : x);
    }, false);
    record_pointwise(out, *this, "ClampBackward1", false, [min, max](auto g, auto x) {
        using T = decltype(g);
        return (x >= T(min) && x <= T(max)) ? g : T(0);
    });
    return out;
}

Tensor Tensor::clamp_min(double min) const { return clamp(min, std::numeric_limits<double>::infinity()); }
Tensor Tensor::clamp_max(double max) const { return clamp(-std::numeric_limits<double>::infinity(), max); }

Tensor Tensor::sin() const {
    Tensor out = kernels::unary(*this, "sin", [](auto x) { return std::sin(x); });
    record_pointwise(out, *this, "SinBackward0", false, [](auto g, auto x) { return g * std::cos(x); });
    return out;
}

Tensor Tensor::cos() const {
    Tensor out = kernels::unary(*this, "cos", [](auto x) { return std::cos(x); });
    record_pointwise(out, *this, "CosBackward0", false, [](auto g, auto x) { return -g * std::sin(x); });
    return out;
}

Tensor Tensor::tanh() const {
    Tensor out = kernels::unary(*this, "tanh", [](auto x) { return std::tanh(x); });
    record_pointwise(out, *this, "TanhBackward0", true, [](auto g, auto y) { return g * (1 - y * y); });
    return out;
}

Tensor Tensor::sigmoid() const {
    Tensor out = kernels::unary(*this, "sigmoid", [](auto x) { return stable_sigmoid(x); });
    record_pointwise(out, *this, "SigmoidBackward0", true, [](auto g, auto y) { return g * y * (1 - y); });
    return out;
}

Tensor Tensor::relu() const {
    Tensor out = kernels::unary(*this, "relu", [](auto x) { return x > 0 ? x : decltype(x)(0); }, false);
    record_pointwise(out, *this, "ReluBackward0", true, [](auto g, auto y) { return y > 0 ? g : decltype(g)(0); });
    return out;
}

Tensor Tensor::gelu(bool tanh_approximation) const {
    if (!tanh_approximation) {
        Tensor out = kernels::unary(*this, "gelu", [](auto x) { return x * normal_cdf(x); });
        record_pointwise(out, *this, "GeluBackward0", false, [](auto g, auto x) { return g * (normal_cdf(x) + x * normal_pdf(x)); });
        return out;
    }
    Tensor out = kernels::unary(*this, "gelu", [](auto x) {
        using T = decltype(x);
        return T(0.5) * x * (T(1) + std::tanh(T(kGeluTanhScale) * (x + T(kGeluTanhCubic) * x * x * x)));
    });
    record_pointwise(out, *this, "GeluBackward0", false, [](auto g, auto x) {
        using T = decltype(x);
        const T inner = T(kGeluTanhScale) * (x + T(kGeluTanhCubic) * x * x * x);
        const T t = std::tanh(inner);
        const T dinner = T(kGeluTanhScale) * (T(1) + T(3 * kGeluTanhCubic) * x * x);
        return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * dinner);
    });
    return out;
}

Tensor Tensor::silu() const {
    Tensor out = kernels::unary(*this, "silu", [](auto x) { return x * stable_sigmoid(x); });
    record_pointwise(out, *this, "SiluBackward0", false, [](auto g, auto x) {
        const auto s = stable_sigmoid(x);
        return g * s * (1 + x * (1 - s));
    });
    return out;
}

Tensor Tensor::softplus(double beta, double threshold) const {
    Tensor out = kernels::unary(*this, "softplus", [beta, threshold](auto x) {
        using T = decltype(x);
        const T bx = T(beta) * x;
        return bx > T(threshold) ? x : std::log1p(std::exp(bx)) / T(beta);
    });
    record_pointwise(out, *this, "SoftplusBackward0", false, [beta, threshold](auto g, auto x) {
        using T = decltype(x);
        const T bx = T(beta) * x;
        return bx > T(threshold) ? g : g * stable_sigmoid(bx);
    });
    return out;
}

Tensor exp(const Tensor& t) { return t.exp(); }
Tensor log(const Tensor& t) { return t.log(); }
Tensor sqrt(const Tensor& t) { return t.sqrt(); }
Tensor tanh(const Tensor& t) { return t.tanh(); }
Tensor sigmoid(const Tensor& t) { return t.sigmoid(); }
Tensor relu(const Tensor& t) { return t.relu(); }
Tensor abs(const Tensor& t) { return t.abs(); }

}  // namespace lazynn
