#include "python_repr.hpp"

#include <lazynn/error.hpp>
#include <lazynn/nn/activation.hpp>

namespace lazynn::nn {

GELU::GELU(GELUOptions options) : options_(std::move(options)) {
    set_name("GELU");
    if (options_.approximate_ != "none" && options_.approximate_ != "tanh") {
        throw ValueError("GELU: approximate must be 'none' or 'tanh', got '" + options_.approximate_ + "'");
    }
}

}  // namespace lazynn::nn

namespace lazynn::nn {
namespace {

std::string number(double v) { return detail::python_float(v); }

Tensor relu6(const Tensor& x) { return x.clamp(0.0, 6.0); }
Tensor elu(const Tensor& x, double alpha) { return where(x > 0.0, x, (x.exp() - 1.0) * alpha); }

constexpr double kSeluAlpha = 1.6732632423543772848170429916717;
constexpr double kSeluScale = 1.0507009873554804934193349852946;

}  // namespace

ReLU6::ReLU6() { set_name("ReLU6"); }
Tensor ReLU6::forward(const Tensor& x) { return relu6(x); }
std::string ReLU6::extra_repr() const { return ""; }

LeakyReLU::LeakyReLU(double negative_slope) : negative_slope_(negative_slope) { set_name("LeakyReLU"); }
Tensor LeakyReLU::forward(const Tensor& x) { return where(x > 0.0, x, x * negative_slope_); }
std::string LeakyReLU::extra_repr() const { return "negative_slope=" + number(negative_slope_); }

ELU::ELU(double alpha) : alpha_(alpha) { set_name("ELU"); }
Tensor ELU::forward(const Tensor& x) { return elu(x, alpha_); }
std::string ELU::extra_repr() const { return "alpha=" + number(alpha_); }

CELU::CELU(double alpha) : alpha_(alpha) {
    set_name("CELU");
    if (alpha == 0) throw ValueError("CELU: alpha must not be 0");
}
Tensor CELU::forward(const Tensor& x) { return where(x > 0.0, x, ((x / alpha_).exp() - 1.0) * alpha_); }
std::string CELU::extra_repr() const { return "alpha=" + number(alpha_); }

SELU::SELU() { set_name("SELU"); }
Tensor SELU::forward(const Tensor& x) { return elu(x, kSeluAlpha) * kSeluScale; }
std::string SELU::extra_repr() const { return ""; }

SiLU::SiLU() { set_name("SiLU"); }
Tensor SiLU::forward(const Tensor& x) { return x.silu(); }
std::string SiLU::extra_repr() const { return ""; }

Mish::Mish() { set_name("Mish"); }
Tensor Mish::forward(const Tensor& x) { return x * x.softplus().tanh(); }
std::string Mish::extra_repr() const { return ""; }

Hardswish::Hardswish() { set_name("Hardswish"); }
Tensor Hardswish::forward(const Tensor& x) { return x * relu6(x + 3.0) / 6.0; }
std::string Hardswish::extra_repr() const { return ""; }

Hardsigmoid::Hardsigmoid() { set_name("Hardsigmoid"); }
Tensor Hardsigmoid::forward(const Tensor& x) { return relu6(x + 3.0) / 6.0; }
std::string Hardsigmoid::extra_repr() const { return ""; }

Hardtanh::Hardtanh(double min_val, double max_val) : min_val_(min_val), max_val_(max_val) {
    set_name("Hardtanh");
    if (max_val <= min_val) throw ValueError("Hardtanh: max_val must be greater than min_val");
}
Tensor Hardtanh::forward(const Tensor& x) { return x.clamp(min_val_, max_val_); }
std::string Hardtanh::extra_repr() const { return "min_val=" + number(min_val_) + ", max_val=" + number(max_val_); }

Softplus::Softplus(double beta, double threshold) : beta_(beta), threshold_(threshold) { set_name("Softplus"); }
Tensor Softplus::forward(const Tensor& x) { return x.softplus(beta_, threshold_); }
std::string Softplus::extra_repr() const { return "beta=" + number(beta_) + ", threshold=" + number(threshold_); }

Softsign::Softsign() { set_name("Softsign"); }
Tensor Softsign::forward(const Tensor& x) { return x / (x.abs() + 1.0); }
std::string Softsign::extra_repr() const { return ""; }

LogSigmoid::LogSigmoid() { set_name("LogSigmoid"); }
Tensor LogSigmoid::forward(const Tensor& x) { return -(-x).softplus(); }
std::string LogSigmoid::extra_repr() const { return ""; }

Threshold::Threshold(double threshold, double value) : threshold_(threshold), value_(value) { set_name("Threshold"); }
Tensor Threshold::forward(const Tensor& x) { return where(x > threshold_, x, full_like(x, value_)); }
std::string Threshold::extra_repr() const { return "threshold=" + number(threshold_) + ", value=" + number(value_); }

Softmax::Softmax(std::int64_t dim) : dim_(dim) { set_name("Softmax"); }
Tensor Softmax::forward(const Tensor& x) { return x.softmax(dim_); }
std::string Softmax::extra_repr() const { return "dim=" + std::to_string(dim_); }

LogSoftmax::LogSoftmax(std::int64_t dim) : dim_(dim) { set_name("LogSoftmax"); }
Tensor LogSoftmax::forward(const Tensor& x) { return x.log_softmax(dim_); }
std::string LogSoftmax::extra_repr() const { return "dim=" + std::to_string(dim_); }

Softmin::Softmin(std::int64_t dim) : dim_(dim) { set_name("Softmin"); }
Tensor Softmin::forward(const Tensor& x) { return (-x).softmax(dim_); }
std::string Softmin::extra_repr() const { return "dim=" + std::to_string(dim_); }

PReLU::PReLU(std::int64_t num_parameters, double init) : num_parameters_(num_parameters) {
    set_name("PReLU");
    if (num_parameters < 1) throw ValueError("PReLU: num_parameters must be at least 1");
    weight = Parameter(full({num_parameters}, init));
}

Tensor PReLU::forward(const Tensor& x) {
    check_input_dtype(x, weight);
    Tensor w = weight;
    if (num_parameters_ > 1) {
        if (x.dim() < 2 || x.size(1) != num_parameters_) {
            throw ShapeError("PReLU(num_parameters=" + std::to_string(num_parameters_) + "): expected input with " +
                             std::to_string(num_parameters_) + " channels at dim 1, got " + shape_to_list(x.shape()));
        }
        Shape shape(static_cast<std::size_t>(x.dim()), 1);
        shape[1] = num_parameters_;
        w = weight.reshape(shape);
    }
    return where(x > 0.0, x, x * w);
}

}  // namespace lazynn::nn
