// Unary math and activation functions with their backward.
#include "autograd/function_node.hpp"
#include "ops/activation_kernels.hpp"
#include "ops/elementwise.hpp"
#include "simd/math_ops.hpp"

#include <numbers>
#include <optional>

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

namespace {

/// Records a backward that multiplies the incoming gradient by f(saved) elementwise, where the
/// saved tensor is the input (use_output false) or the output. `graph(g, x)` is the same gradient
/// written with differentiable ops on the input x (create_graph).
template <class Derivative, class Graph>
void record_pointwise(Tensor& out, const Tensor& in, const char* name, bool use_output, Derivative derivative,
                      Graph graph, std::int64_t grain = kernels::kElementwiseGrain) {
    if (!needs_grad({&in})) return;
    const Dtype in_dtype = in.dtype();
    record(
        out, name, {in},
        [saved = SavedTensor(use_output ? out : in), derivative, in_dtype, grain](const Tensor& g) {
            const Tensor s = saved.unpack();
            return std::vector<Tensor>{kernels::pointwise_gradient(g, s, derivative, grain).to(in_dtype)};
        },
        true,
        [graph, in_dtype](const Tensor& g, const autograd::detail::BackwardInputs& inputs) {
            return std::vector<Tensor>{graph(g, inputs[0]).to(in_dtype)};
        });
}

/// The graph formula of an op whose derivative is piecewise constant (abs, clamp, relu, steps):
/// the gradient times a constant mask, derivative(1, x), so only the gradient carries history.
/// derivative must read its second argument as the input (or give the same mask from it).
template <class Derivative>
auto constant_derivative(Derivative derivative) {
    return [derivative](const Tensor& g, const Tensor& x) {
        return g * kernels::pointwise_gradient(ones_like(x), x, derivative);
    };
}

constexpr std::int64_t kCostly = kernels::kTranscendentalGrain;

template <class T>
T normal_cdf(T x) {
    return T(0.5) * (T(1) + std::erf(x * T(std::numbers::sqrt2 / 2)));
}

template <class T>
T normal_pdf(T x) {
    return std::exp(T(-0.5) * x * x) * T(0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2);
}

constexpr double kGeluTanhScale = 0.7978845608028654;  // sqrt(2 / pi)
constexpr double kGeluTanhCubic = 0.044715;

template <class T>
T stable_sigmoid(T x) {
    if (x >= 0) return T(1) / (T(1) + std::exp(-x));
    const T e = std::exp(x);
    return e / (T(1) + e);
}

/// forward(x, y, n) over a float32 tensor through a vectorised kernel (activation_kernels.hpp),
/// split across threads for large tensors; no autograd.
template <class Forward>
Tensor float32_map(const Tensor& input, Forward forward) {
    const Tensor x = lazynn::detail::contiguous_data(input);
    Tensor out = lazynn::detail::empty_tensor(x.shape(), kFloat32);
    const float* xv = x.impl().data<float>();
    float* y = out.impl().data<float>();
    kernels::elementwise_chunks(
        x.numel(), [&](std::int64_t begin, std::int64_t end) { forward(xv + begin, y + begin, end - begin); }, kCostly);
    return out;
}

/// A float32 activation whose backward needs its input again: y = forward(x), and in the
/// backward grad_x = backward(grad_y, x), both through vectorised kernels.
template <class Forward, class Backward, class Graph>
Tensor float32_activation(const Tensor& input, const char* node, Forward forward, Backward backward, Graph graph) {
    Tensor out = float32_map(input, forward);
    if (needs_grad({&input})) {
        record(
            out, node, {input},
            [saved = SavedTensor(lazynn::detail::contiguous_data(input)), backward](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in.to(kFloat32));
                const Tensor xs = saved.unpack();
                Tensor grad = lazynn::detail::empty_tensor(xs.shape(), kFloat32);
                const float* gv = g.impl().data<float>();
                const float* saved_x = xs.impl().data<float>();
                float* gr = grad.impl().data<float>();
                kernels::elementwise_chunks(
                    xs.numel(),
                    [&](std::int64_t begin, std::int64_t end) {
                        backward(gv + begin, saved_x + begin, gr + begin, end - begin);
                    },
                    kCostly);
                return std::vector<Tensor>{grad};
            },
            true,
            [graph](const Tensor& g, const autograd::detail::BackwardInputs& inputs) {
                return std::vector<Tensor>{graph(g, inputs[0])};
            });
    }
    return out;
}

/// Graph formulas shared by the float32 (vectorised) and generic paths.
Tensor gelu_grad(const Tensor& g, const Tensor& x, bool tanh_approximation) {
    if (!tanh_approximation) {
        const Tensor cdf = 0.5 * (1.0 + (x * (std::numbers::sqrt2 / 2)).erf());
        const Tensor pdf = (x * x * -0.5).exp() * (0.5 * std::numbers::inv_sqrtpi * std::numbers::sqrt2);
        return g * (cdf + x * pdf);
    }
    const Tensor t = ((x + x * x * x * kGeluTanhCubic) * kGeluTanhScale).tanh();
    const Tensor dinner = (1.0 + x * x * (3 * kGeluTanhCubic)) * kGeluTanhScale;
    return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * dinner);
}

Tensor silu_grad(const Tensor& g, const Tensor& x) {
    const Tensor s = x.sigmoid();
    return g * s * (1.0 + x * (1.0 - s));
}

}  // namespace

Tensor Tensor::neg() const {
    if (detail::checked(*this, "neg").dtype == kBool) {
        throw RuntimeError(
            "neg: Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
            "invert a mask, use the `~` or `logical_not()` operator instead.");
    }
    Tensor out = kernels::unary(
        *this, "neg", [](auto x) { return -x; }, false);
    if (needs_grad({this})) {
        record(
            out, "NegBackward0", {*this}, [](const Tensor& g) { return std::vector<Tensor>{-g}; }, false,
            autograd::detail::kDifferentiable);
    }
    return out;
}

Tensor Tensor::abs() const {
    Tensor out = kernels::unary(
        *this, "abs",
        [](auto x) {
            // std::abs clears the sign of -0.0 (PyTorch's abs(-0.) is 0.); int64 has no -0.
            if constexpr (std::is_floating_point_v<decltype(x)>)
                return std::abs(x);
            else
                return x < 0 ? -x : x;
        },
        false);
    // PyTorch's grad * sgn(x), a product: a NaN or inf gradient at x = 0 (or NaN, whose sgn is 0)
    // gives NaN, where selecting 0 would hide it.
    auto derivative = [](auto g, auto x) {
        using G = decltype(g);
        return g * (x > 0 ? G(1) : (x < 0 ? G(-1) : G(0)));
    };
    record_pointwise(out, *this, "AbsBackward0", false, derivative, constant_derivative(derivative));
    return out;
}

Tensor Tensor::exp() const {
    Tensor out = simd::math(*this, "exp", simd::MathFunction::exp);
    record_pointwise(
        out, *this, "ExpBackward0", true, [](auto g, auto y) { return g * y; },
        [](const Tensor& g, const Tensor& x) { return g * x.exp(); });
    return out;
}

Tensor Tensor::log() const {
    Tensor out = simd::math(*this, "log", simd::MathFunction::log);
    record_pointwise(
        out, *this, "LogBackward0", false, [](auto g, auto x) { return g / x; },
        [](const Tensor& g, const Tensor& x) { return g / x; });
    return out;
}

Tensor Tensor::sqrt() const {
    Tensor out = simd::math(*this, "sqrt", simd::MathFunction::sqrt);
    record_pointwise(
        out, *this, "SqrtBackward0", true, [](auto g, auto y) { return g / (2 * y); },
        [](const Tensor& g, const Tensor& x) { return g / (2.0 * x.sqrt()); });
    return out;
}

Tensor Tensor::rsqrt() const {
    Tensor out = kernels::unary(*this, "rsqrt", [](auto x) { return 1 / std::sqrt(x); });
    record_pointwise(
        out, *this, "RsqrtBackward0", true, [](auto g, auto y) { return decltype(g)(-0.5) * g * y * y * y; },
        [](const Tensor& g, const Tensor& x) { return -0.5 * g * x.pow(-1.5); });
    return out;
}

namespace {

/// x^e with PyTorch's special exponents: 0.5 is sqrt and -0.5 is 1/sqrt (so -0 gives -0 and
/// -inf, not pow's +0 and +inf), 2 and 3 are products, -1 and -2 are reciprocals.
template <class T>
T pow_scalar(T x, double e) {
    if (e == 1) return x;
    if (e == 2) return x * x;
    if (e == 3) return x * x * x;
    if (e == 0.5) return std::sqrt(x);
    if (e == -0.5) return T(1) / std::sqrt(x);
    if (e == -1) return T(1) / x;
    if (e == -2) return T(1) / (x * x);
    return static_cast<T>(std::pow(x, static_cast<T>(e)));
}

/// clamp with either bound optional. NaN stays NaN; min > max gives max everywhere (PyTorch's
/// min(max(x, min), max)). An int64 tensor with a fractional bound computes in float32.
Tensor clamp_impl(const Tensor& self, std::optional<double> lo, std::optional<double> hi, const char* name) {
    const TensorImpl& impl = detail::checked(self, name);
    auto fractional = [](std::optional<double> v) { return v && std::floor(*v) != *v; };
    const bool to_float = impl.dtype == kInt64 && (fractional(lo) || fractional(hi));
    const Tensor in = to_float ? kernels::converted(self, kFloat32) : self;
    Tensor out = kernels::unary(
        in, name,
        [lo, hi](auto x) {
            using T = decltype(x);
            if (x != x) return x;
            if (lo && static_cast<double>(x) < *lo) x = T(*lo);
            if (hi && static_cast<double>(x) > *hi) x = T(*hi);
            return x;
        },
        false);
    const double lo_v = lo.value_or(-std::numeric_limits<double>::infinity());
    const double hi_v = hi.value_or(std::numeric_limits<double>::infinity());
    auto derivative = [lo_v, hi_v](auto g, auto x) {
        // Compared in double: an infinite bound must not be cast to the element type.
        const auto xv = static_cast<double>(x);
        return (xv >= lo_v && xv <= hi_v) ? g : decltype(g)(0);
    };
    record_pointwise(out, self, lo && hi ? "ClampBackward1" : (lo ? "ClampMinBackward0" : "ClampMaxBackward0"), false,
                     derivative, constant_derivative(derivative));
    return out;
}

}  // namespace

Tensor Tensor::pow(double exponent) const {
    const bool floating_result = std::floor(exponent) != exponent || exponent < 0;
    const std::int64_t grain = exponent == 2 || exponent == 3 ? kernels::kElementwiseGrain : kCostly;
    Tensor out = kernels::unary(
        *this, "pow", [exponent](auto x) { return pow_scalar(x, exponent); }, floating_result, grain);
    record_pointwise(
        out, *this, "PowBackward0", false,
        [exponent](auto g, auto x) {
            using T = decltype(g);
            return exponent == 0 ? T(0) : static_cast<T>(g * T(exponent) * pow_scalar(static_cast<T>(x), exponent - 1));
        },
        [exponent](const Tensor& g, const Tensor& x) {
            return exponent == 0 ? g * zeros_like(x) : g * exponent * x.pow(exponent - 1);
        },
        grain);
    return out;
}

Tensor Tensor::clamp(double min, double max) const { return clamp_impl(*this, min, max, "clamp"); }
Tensor Tensor::clamp_min(double min) const { return clamp_impl(*this, min, std::nullopt, "clamp_min"); }
Tensor Tensor::clamp_max(double max) const { return clamp_impl(*this, std::nullopt, max, "clamp_max"); }

Tensor Tensor::sin() const {
    Tensor out = simd::math(*this, "sin", simd::MathFunction::sin);
    record_pointwise(
        out, *this, "SinBackward0", false, [](auto g, auto x) { return g * std::cos(x); },
        [](const Tensor& g, const Tensor& x) { return g * x.cos(); }, kCostly);
    return out;
}

Tensor Tensor::cos() const {
    Tensor out = simd::math(*this, "cos", simd::MathFunction::cos);
    record_pointwise(
        out, *this, "CosBackward0", false, [](auto g, auto x) { return -g * std::sin(x); },
        [](const Tensor& g, const Tensor& x) { return -g * x.sin(); }, kCostly);
    return out;
}

Tensor Tensor::tanh() const {
    Tensor out = dtype() == kFloat32 ? float32_map(*this, kernels::tanh_forward)
                                     : kernels::unary(
                                           *this, "tanh", [](auto x) { return std::tanh(x); }, true, kCostly);
    record_pointwise(
        out, *this, "TanhBackward0", true, [](auto g, auto y) { return g * (1 - y * y); },
        [](const Tensor& g, const Tensor& x) {
            const Tensor t = x.tanh();
            return g * (1.0 - t * t);
        });
    return out;
}

Tensor Tensor::sigmoid() const {
    Tensor out = dtype() == kFloat32 ? float32_map(*this, kernels::sigmoid_forward)
                                     : kernels::unary(
                                           *this, "sigmoid", [](auto x) { return stable_sigmoid(x); }, true, kCostly);
    record_pointwise(
        out, *this, "SigmoidBackward0", true, [](auto g, auto y) { return g * y * (1 - y); },
        [](const Tensor& g, const Tensor& x) {
            const Tensor s = x.sigmoid();
            return g * s * (1.0 - s);
        });
    return out;
}

Tensor Tensor::relu() const {
    // PyTorch's threshold semantics: NaN passes through (with gradient 1), -0.0 stays -0.0 (gradient 0).
    Tensor out = kernels::unary(
        *this, "relu", [](auto x) { return x < 0 ? decltype(x)(0) : x; }, false);
    // The mask from the input equals the one from the output: relu(x) <= 0 exactly when x <= 0.
    auto derivative = [](auto g, auto y) { return y <= 0 ? decltype(g)(0) : g; };
    record_pointwise(out, *this, "ReluBackward0", true, derivative, constant_derivative(derivative));
    return out;
}

Tensor Tensor::gelu(bool tanh_approximation) const {
    if (dtype() == kFloat32) {
        return float32_activation(
            *this, "GeluBackward0",
            [=](const float* x, float* y, std::int64_t n) { kernels::gelu_forward(x, y, n, tanh_approximation); },
            [=](const float* g, const float* x, float* out, std::int64_t n) {
                kernels::gelu_backward(g, x, out, n, tanh_approximation);
            },
            [=](const Tensor& g, const Tensor& x) { return gelu_grad(g, x, tanh_approximation); });
    }
    if (!tanh_approximation) {
        Tensor out = kernels::unary(
            *this, "gelu", [](auto x) { return x * normal_cdf(x); }, true, kCostly);
        record_pointwise(
            out, *this, "GeluBackward0", false, [](auto g, auto x) { return g * (normal_cdf(x) + x * normal_pdf(x)); },
            [](const Tensor& g, const Tensor& x) { return gelu_grad(g, x, false); }, kCostly);
        return out;
    }
    Tensor out = kernels::unary(
        *this, "gelu",
        [](auto x) {
            using T = decltype(x);
            return T(0.5) * x * (T(1) + std::tanh(T(kGeluTanhScale) * (x + T(kGeluTanhCubic) * x * x * x)));
        },
        true, kCostly);
    record_pointwise(
        out, *this, "GeluBackward0", false,
        [](auto g, auto x) {
            using T = decltype(x);
            const T inner = T(kGeluTanhScale) * (x + T(kGeluTanhCubic) * x * x * x);
            const T t = std::tanh(inner);
            const T dinner = T(kGeluTanhScale) * (T(1) + T(3 * kGeluTanhCubic) * x * x);
            return g * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * dinner);
        },
        [](const Tensor& g, const Tensor& x) { return gelu_grad(g, x, true); }, kCostly);
    return out;
}

Tensor Tensor::silu() const {
    if (dtype() == kFloat32) {
        return float32_activation(*this, "SiluBackward0", kernels::silu_forward, kernels::silu_backward, silu_grad);
    }
    Tensor out = kernels::unary(
        *this, "silu", [](auto x) { return x * stable_sigmoid(x); }, true, kCostly);
    record_pointwise(
        out, *this, "SiluBackward0", false,
        [](auto g, auto x) {
            const auto s = stable_sigmoid(x);
            return g * s * (1 + x * (1 - s));
        },
        silu_grad, kCostly);
    return out;
}

Tensor Tensor::softplus(double beta, double threshold) const {
    Tensor out = simd::softplus(*this, beta, threshold);
    record_pointwise(
        out, *this, "SoftplusBackward0", false,
        [beta, threshold](auto g, auto x) {
            using T = decltype(x);
            const T bx = T(beta) * x;
            return bx > T(threshold) ? g : g * stable_sigmoid(bx);
        },
        [beta, threshold](const Tensor& g, const Tensor& x) {
            const Tensor bx = x * beta;
            return where(bx > threshold, g, g * bx.sigmoid());
        },
        kCostly);
    return out;
}

Tensor Tensor::log1p() const {
    Tensor out = kernels::unary(
        *this, "log1p", [](auto x) { return std::log1p(x); }, true, kCostly);
    record_pointwise(
        out, *this, "Log1PBackward0", false, [](auto g, auto x) { return g / (1 + x); },
        [](const Tensor& g, const Tensor& x) { return g / (1.0 + x); });
    return out;
}

Tensor Tensor::expm1() const {
    Tensor out = kernels::unary(
        *this, "expm1", [](auto x) { return std::expm1(x); }, true, kCostly);
    record_pointwise(
        out, *this, "Expm1Backward0", true, [](auto g, auto y) { return g * (y + 1); },
        [](const Tensor& g, const Tensor& x) { return g * x.exp(); });
    return out;
}

Tensor Tensor::tan() const {
    Tensor out = kernels::unary(
        *this, "tan", [](auto x) { return std::tan(x); }, true, kCostly);
    record_pointwise(
        out, *this, "TanBackward0", true, [](auto g, auto y) { return g * (1 + y * y); },
        [](const Tensor& g, const Tensor& x) {
            const Tensor t = x.tan();
            return g * (1.0 + t * t);
        });
    return out;
}

Tensor Tensor::erf() const {
    Tensor out = kernels::unary(
        *this, "erf", [](auto x) { return std::erf(x); }, true, kCostly);
    record_pointwise(
        out, *this, "ErfBackward0", false,
        [](auto g, auto x) {
            using T = decltype(g);
            return g * T(std::numbers::inv_sqrtpi * 2) * std::exp(-x * x);
        },
        [](const Tensor& g, const Tensor& x) { return g * (std::numbers::inv_sqrtpi * 2) * (-x * x).exp(); }, kCostly);
    return out;
}

Tensor Tensor::reciprocal() const {
    Tensor out = kernels::unary(*this, "reciprocal", [](auto x) { return decltype(x)(1) / x; });
    record_pointwise(
        out, *this, "ReciprocalBackward0", true, [](auto g, auto y) { return -g * y * y; },
        [](const Tensor& g, const Tensor& x) { return -g / (x * x); });
    return out;
}

namespace {

/// A piecewise-constant op (sign, floor, ...): int64 stays int64, and the gradient is zero.
template <class F>
Tensor step_function(const Tensor& self, const char* name, const char* node, F f) {
    Tensor out = kernels::unary(self, name, f, false);
    auto derivative = [](auto g, auto) { return decltype(g)(0); };
    record_pointwise(out, self, node, false, derivative, constant_derivative(derivative));
    return out;
}

}  // namespace

Tensor Tensor::sign() const {
    // (0 < x) - (x < 0): NaN and both zeros give +0, as in PyTorch.
    return step_function(*this, "sign", "SignBackward0", [](auto x) {
        using T = decltype(x);
        return static_cast<T>(static_cast<int>(T(0) < x) - static_cast<int>(x < T(0)));
    });
}

namespace {

/// round_fn(x) for floating x; integers are already whole.
template <class T, class RoundFn>
T whole(T x, RoundFn round_fn) {
    if constexpr (std::is_integral_v<T>)
        return x;
    else
        return static_cast<T>(round_fn(x));
}

}  // namespace

Tensor Tensor::floor() const {
    return step_function(*this, "floor", "FloorBackward0",
                         [](auto x) { return whole(x, [](auto v) { return std::floor(v); }); });
}

Tensor Tensor::ceil() const {
    return step_function(*this, "ceil", "CeilBackward0",
                         [](auto x) { return whole(x, [](auto v) { return std::ceil(v); }); });
}

Tensor Tensor::round() const {
    // nearbyint in the default rounding mode rounds half to even.
    return step_function(*this, "round", "RoundBackward0",
                         [](auto x) { return whole(x, [](auto v) { return std::nearbyint(v); }); });
}

Tensor Tensor::trunc() const {
    return step_function(*this, "trunc", "TruncBackward0",
                         [](auto x) { return whole(x, [](auto v) { return std::trunc(v); }); });
}

Tensor exp(const Tensor& t) { return t.exp(); }
Tensor log(const Tensor& t) { return t.log(); }
Tensor sqrt(const Tensor& t) { return t.sqrt(); }
Tensor tanh(const Tensor& t) { return t.tanh(); }
Tensor sigmoid(const Tensor& t) { return t.sigmoid(); }
Tensor relu(const Tensor& t) { return t.relu(); }
Tensor abs(const Tensor& t) { return t.abs(); }

}  // namespace lazynn
