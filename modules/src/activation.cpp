#include "python_repr.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/error.hpp>
#include <lazynn/nn/activation.hpp>

namespace lazynn::nn {
namespace {

std::string number(double v) { return detail::python_float(v); }

Tensor relu6(const Tensor& x) { return x.clamp(0.0, 6.0); }
Tensor elu(const Tensor& x, double alpha) { return where(x > 0.0, x, (x.exp() - 1.0) * alpha); }

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

}  // namespace

std::string GELU::extra_repr() const {
    return std::string("approximate='") + (options_.approximate() == GELUApproximate::Tanh ? "tanh" : "none") + "'";
}

Tensor ReLU6::forward(const Tensor& x) { return relu6(x); }

Tensor LeakyReLU::forward(const Tensor& x) { return where(x > 0.0, x, x * options_.negative_slope()); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + number(options_.negative_slope()); }

Tensor ELU::forward(const Tensor& x) { return elu(x, options_.alpha()); }
std::string ELU::extra_repr() const { return "alpha=" + number(options_.alpha()); }

CELU::CELU(CELUOptions options) : options_(options) {
    set_name("CELU");
    if (options_.alpha() == 0) throw ValueError("CELU: alpha must not be 0");
}
Tensor CELU::forward(const Tensor& x) {
    const double alpha = options_.alpha();
    return where(x > 0.0, x, ((x / alpha).exp() - 1.0) * alpha);
}
std::string CELU::extra_repr() const { return "alpha=" + number(options_.alpha()); }

Tensor SELU::forward(const Tensor& x) { return elu(x, kSeluAlpha) * kSeluScale; }

Tensor Mish::forward(const Tensor& x) { return x * x.softplus().tanh(); }

Tensor Hardswish::forward(const Tensor& x) { return x * relu6(x + 3.0) / 6.0; }

Tensor Hardsigmoid::forward(const Tensor& x) { return relu6(x + 3.0) / 6.0; }

Hardtanh::Hardtanh(HardtanhOptions options) : options_(options) {
    set_name("Hardtanh");
    if (options_.max_val() <= options_.min_val()) throw ValueError("Hardtanh: max_val must be greater than min_val");
}
Tensor Hardtanh::forward(const Tensor& x) { return x.clamp(options_.min_val(), options_.max_val()); }
std::string Hardtanh::extra_repr() const {
    return "min_val=" + number(options_.min_val()) + ", max_val=" + number(options_.max_val());
}

std::string Softplus::extra_repr() const {
    return "beta=" + number(options_.beta()) + ", threshold=" + number(options_.threshold());
}

Tensor Softsign::forward(const Tensor& x) { return x / (x.abs() + 1.0); }

Tensor LogSigmoid::forward(const Tensor& x) { return -(-x).softplus(); }

Tensor Threshold::forward(const Tensor& x) {
    // PyTorch's test: x <= threshold gives value, so a NaN passes through.
    return where(x <= options_.threshold(), full_like(x, options_.value()), x);
}
std::string Threshold::extra_repr() const {
    return "threshold=" + number(options_.threshold()) + ", value=" + number(options_.value());
}

std::string Softmax::extra_repr() const { return "dim=" + std::to_string(options_.dim()); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(options_.dim()); }
std::string Softmin::extra_repr() const { return "dim=" + std::to_string(options_.dim()); }

RReLU::RReLU(RReLUOptions options) : options_(options) {
    set_name("RReLU");
    if (!(options_.lower() <= options_.upper())) {
        throw ValueError("RReLU: Lower bound should be less than or equal to the upper bound, got lower=" +
                         number(options_.lower()) + " and upper=" + number(options_.upper()));
    }
}
Tensor RReLU::forward(const Tensor& x) {
    const double lower = options_.lower(), upper = options_.upper();
    if (!is_training()) return where(x > 0.0, x, x * ((lower + upper) / 2));
    // One slope per element, kept as a constant of the graph: the gradient is that slope.
    Tensor slopes;
    {
        NoGradGuard no_grad;
        slopes = where(x > 0.0, ones_like(x), rand_like(x) * (upper - lower) + lower);
    }
    return x * slopes;
}
std::string RReLU::extra_repr() const {
    return "lower=" + number(options_.lower()) + ", upper=" + number(options_.upper());
}

// PyTorch's rules, boundaries included: hardshrink keeps x only strictly outside [-lambda, lambda],
// softshrink moves x toward 0 by lambda (the gradient is 0 on the closed band).
Tensor Hardshrink::forward(const Tensor& x) {
    const double lambda = options_.lambda();
    return where((x >= -lambda) & (x <= lambda), zeros_like(x), x);
}
std::string Hardshrink::extra_repr() const { return number(options_.lambda()); }

Softshrink::Softshrink(SoftshrinkOptions options) : options_(options) {
    set_name("Softshrink");
    if (!(options_.lambda() >= 0)) {
        throw ValueError("Softshrink: lambda must be greater or equal to 0, but found to be " +
                         number(options_.lambda()) + ".");
    }
}
Tensor Softshrink::forward(const Tensor& x) {
    const double lambda = options_.lambda();
    return where(x > lambda, x - lambda, where(x < -lambda, x + lambda, zeros_like(x)));
}
std::string Softshrink::extra_repr() const { return number(options_.lambda()); }

Tensor GLU::forward(const Tensor& x) {
    if (x.dim() == 0) throw ShapeError("GLU: glu does not support scalars because halving size must be even");
    const std::int64_t dim = normalize_dim(options_.dim(), x.dim());
    if (x.size(dim) % 2 != 0) {
        throw ShapeError("GLU: Halving dimension must be even, but dimension " + std::to_string(dim) + " is size " +
                         std::to_string(x.size(dim)));
    }
    const std::int64_t half = x.size(dim) / 2;
    return x.narrow(dim, 0, half) * x.narrow(dim, half, half).sigmoid();
}

Tensor Softmax2d::forward(const Tensor& x) {
    if (x.dim() != 3 && x.dim() != 4) {
        throw ShapeError("Softmax2d: requires a 3D or 4D tensor as input, got " + std::to_string(x.dim()) + "D " +
                         shape_to_list(x.shape()));
    }
    return x.softmax(-3);
}

PReLU::PReLU(PReLUOptions options) : options_(options) {
    set_name("PReLU");
    if (options_.num_parameters() < 1) throw ValueError("PReLU: num_parameters must be at least 1");
    weight = Parameter(full({options_.num_parameters()}, options_.init()));
}

Tensor PReLU::forward(const Tensor& x) {
    check_input_dtype(x, weight);
    Tensor w = weight;
    const std::int64_t channels = options_.num_parameters();
    if (channels > 1) {
        if (x.dim() < 2 || x.size(1) != channels) {
            throw ShapeError("PReLU(num_parameters=" + std::to_string(channels) + "): expected input with " +
                             std::to_string(channels) + " channels at dim 1, got " + shape_to_list(x.shape()));
        }
        Shape shape(static_cast<std::size_t>(x.dim()), 1);
        shape[1] = channels;
        w = weight.reshape(shape);
    }
    return where(x > 0.0, x, x * w);
}

}  // namespace lazynn::nn
