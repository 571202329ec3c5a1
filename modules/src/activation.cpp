#include "python_repr.hpp"

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
    return where(x > options_.threshold(), x, full_like(x, options_.value()));
}
std::string Threshold::extra_repr() const {
    return "threshold=" + number(options_.threshold()) + ", value=" + number(options_.value());
}

std::string Softmax::extra_repr() const { return "dim=" + std::to_string(options_.dim()); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(options_.dim()); }
std::string Softmin::extra_repr() const { return "dim=" + std::to_string(options_.dim()); }

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
