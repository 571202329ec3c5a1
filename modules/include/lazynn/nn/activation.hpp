#pragma once
// Element-wise activation layers: each is a plain class (go-to-definition finds it) whose forward
// applies one function to every element. Layers with knobs take an options struct written with
// LAZYNN_ARG (getter + fluent setter, docs/design.md "Options"); the rest take nothing.
//
// Example:
//     nn::Sequential net(nn::Linear(4, 8), nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)),
//                        nn::Linear(8, 3), nn::Softmax(1));

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>

#include <cstdint>
#include <string>

namespace lazynn::nn {

/// max(0, x).
///
/// Example:
///     nn::ReLU relu;
///     Tensor y = relu(x);   // same shape as x
class ReLU : public Module {
    LAZYNN_MODULE(ReLU)
public:
    ReLU() { set_name("ReLU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.relu(); }
};

/// min(max(0, x), 6).
///
/// Example:
///     nn::ReLU6 act;
class ReLU6 : public Module {
    LAZYNN_MODULE(ReLU6)
public:
    ReLU6() { set_name("ReLU6"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

/// 1 / (1 + exp(-x)).
///
/// Example:
///     nn::Sigmoid act;
class Sigmoid : public Module {
    LAZYNN_MODULE(Sigmoid)
public:
    Sigmoid() { set_name("Sigmoid"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.sigmoid(); }
};

/// tanh(x).
///
/// Example:
///     nn::Tanh act;
class Tanh : public Module {
    LAZYNN_MODULE(Tanh)
public:
    Tanh() { set_name("Tanh"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.tanh(); }
};

/// GELU's two forms (PyTorch's approximate='none' / 'tanh').
enum class GELUApproximate { None, Tanh };

struct GELUOptions {
    LAZYNN_ARG(GELUApproximate, approximate) = GELUApproximate::None;
};

/// x * Phi(x), exactly or with the tanh approximation.
///
/// Example:
///     nn::GELU exact;
///     nn::GELU fast(nn::GELUOptions().approximate(nn::GELUApproximate::Tanh));
class GELU : public Module {
    LAZYNN_MODULE(GELU)
public:
    explicit GELU(GELUOptions options = {}) : options_(options) { set_name("GELU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.gelu(options_.approximate() == GELUApproximate::Tanh); }
    std::string extra_repr() const override;
    const GELUOptions& options() const { return options_; }

private:
    GELUOptions options_;
};

struct LeakyReLUOptions {
    LAZYNN_ARG(double, negative_slope) = 0.01;
};

/// x for x > 0, negative_slope * x otherwise.
///
/// Example:
///     nn::LeakyReLU act(nn::LeakyReLUOptions().negative_slope(0.2));
class LeakyReLU : public Module {
    LAZYNN_MODULE(LeakyReLU)
public:
    explicit LeakyReLU(LeakyReLUOptions options = {}) : options_(options) { set_name("LeakyReLU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const LeakyReLUOptions& options() const { return options_; }

private:
    LeakyReLUOptions options_;
};

struct ELUOptions {
    LAZYNN_ARG(double, alpha) = 1.0;
};

/// x for x > 0, alpha * (exp(x) - 1) otherwise.
///
/// Example:
///     nn::ELU act(nn::ELUOptions().alpha(0.7));
class ELU : public Module {
    LAZYNN_MODULE(ELU)
public:
    explicit ELU(ELUOptions options = {}) : options_(options) { set_name("ELU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const ELUOptions& options() const { return options_; }

private:
    ELUOptions options_;
};

struct CELUOptions {
    LAZYNN_ARG(double, alpha) = 1.0;
};

/// x for x > 0, alpha * (exp(x / alpha) - 1) otherwise. Throws ValueError for alpha == 0.
///
/// Example:
///     nn::CELU act(nn::CELUOptions().alpha(1.3));
class CELU : public Module {
    LAZYNN_MODULE(CELU)
public:
    explicit CELU(CELUOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const CELUOptions& options() const { return options_; }

private:
    CELUOptions options_;
};

/// scale * ELU(x, alpha) with the self-normalising constants of Klambauer et al.
///
/// Example:
///     nn::SELU act;
class SELU : public Module {
    LAZYNN_MODULE(SELU)
public:
    SELU() { set_name("SELU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

/// x * sigmoid(x).
///
/// Example:
///     nn::SiLU act;
class SiLU : public Module {
    LAZYNN_MODULE(SiLU)
public:
    SiLU() { set_name("SiLU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.silu(); }
};

/// x * tanh(softplus(x)).
///
/// Example:
///     nn::Mish act;
class Mish : public Module {
    LAZYNN_MODULE(Mish)
public:
    Mish() { set_name("Mish"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

/// x * ReLU6(x + 3) / 6.
///
/// Example:
///     nn::Hardswish act;
class Hardswish : public Module {
    LAZYNN_MODULE(Hardswish)
public:
    Hardswish() { set_name("Hardswish"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

/// ReLU6(x + 3) / 6.
///
/// Example:
///     nn::Hardsigmoid act;
class Hardsigmoid : public Module {
    LAZYNN_MODULE(Hardsigmoid)
public:
    Hardsigmoid() { set_name("Hardsigmoid"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

struct HardtanhOptions {
    LAZYNN_ARG(double, min_val) = -1.0;
    LAZYNN_ARG(double, max_val) = 1.0;
};

/// x clamped to [min_val, max_val]. Throws ValueError unless max_val > min_val.
///
/// Example:
///     nn::Hardtanh act(nn::HardtanhOptions().min_val(-0.5).max_val(0.8));
class Hardtanh : public Module {
    LAZYNN_MODULE(Hardtanh)
public:
    explicit Hardtanh(HardtanhOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const HardtanhOptions& options() const { return options_; }

private:
    HardtanhOptions options_;
};

struct SoftplusOptions {
    LAZYNN_ARG(double, beta) = 1.0;
    /// Above beta * x > threshold the layer returns x (softplus is linear there to float precision).
    LAZYNN_ARG(double, threshold) = 20.0;
};

/// log(1 + exp(beta * x)) / beta.
///
/// Example:
///     nn::Softplus act(nn::SoftplusOptions().beta(2.0).threshold(3.0));
class Softplus : public Module {
    LAZYNN_MODULE(Softplus)
public:
    explicit Softplus(SoftplusOptions options = {}) : options_(options) { set_name("Softplus"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.softplus(options_.beta(), options_.threshold()); }
    std::string extra_repr() const override;
    const SoftplusOptions& options() const { return options_; }

private:
    SoftplusOptions options_;
};

/// x / (1 + |x|).
///
/// Example:
///     nn::Softsign act;
class Softsign : public Module {
    LAZYNN_MODULE(Softsign)
public:
    Softsign() { set_name("Softsign"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

/// log(sigmoid(x)), computed as -softplus(-x) so it stays finite for large |x|.
///
/// Example:
///     nn::LogSigmoid act;
class LogSigmoid : public Module {
    LAZYNN_MODULE(LogSigmoid)
public:
    LogSigmoid() { set_name("LogSigmoid"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
};

struct ThresholdOptions {
    ThresholdOptions(double threshold, double value) : threshold_(threshold), value_(value) {}
    LAZYNN_ARG(double, threshold);
    LAZYNN_ARG(double, value);
};

/// x where x > threshold, value elsewhere.
///
/// Example:
///     nn::Threshold act(0.1, -2.0);   // or nn::Threshold(nn::ThresholdOptions(0.1, -2.0))
class Threshold : public Module {
    LAZYNN_MODULE(Threshold)
public:
    explicit Threshold(ThresholdOptions options) : options_(options) { set_name("Threshold"); }
    Threshold(double threshold, double value) : Threshold(ThresholdOptions(threshold, value)) {}
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const ThresholdOptions& options() const { return options_; }

private:
    ThresholdOptions options_;
};

/// The dimension Softmax, LogSoftmax and Softmin normalise over.
struct SoftmaxOptions {
    SoftmaxOptions(std::int64_t dim) : dim_(dim) {}  // NOLINT(google-explicit-constructor): Softmax(1)
    LAZYNN_ARG(std::int64_t, dim);
};

/// exp(x) / sum(exp(x)) along dim.
///
/// Example:
///     nn::Softmax act(1);   // rows of an [N, C] input sum to 1
class Softmax : public Module {
    LAZYNN_MODULE(Softmax)
public:
    explicit Softmax(SoftmaxOptions options) : options_(options) { set_name("Softmax"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.softmax(options_.dim()); }
    std::string extra_repr() const override;
    const SoftmaxOptions& options() const { return options_; }

private:
    SoftmaxOptions options_;
};

/// log(softmax(x)) along dim, computed stably.
///
/// Example:
///     nn::LogSoftmax act(1);
class LogSoftmax : public Module {
    LAZYNN_MODULE(LogSoftmax)
public:
    explicit LogSoftmax(SoftmaxOptions options) : options_(options) { set_name("LogSoftmax"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.log_softmax(options_.dim()); }
    std::string extra_repr() const override;
    const SoftmaxOptions& options() const { return options_; }

private:
    SoftmaxOptions options_;
};

/// softmax(-x) along dim.
///
/// Example:
///     nn::Softmin act(-1);
class Softmin : public Module {
    LAZYNN_MODULE(Softmin)
public:
    explicit Softmin(SoftmaxOptions options) : options_(options) { set_name("Softmin"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return (-input).softmax(options_.dim()); }
    std::string extra_repr() const override;
    const SoftmaxOptions& options() const { return options_; }

private:
    SoftmaxOptions options_;
};

struct RReLUOptions {
    /// The bounds of the uniform distribution the negative slopes are drawn from while training.
    LAZYNN_ARG(double, lower) = 1.0 / 8.0;
    LAZYNN_ARG(double, upper) = 1.0 / 3.0;
};

/// Randomized leaky ReLU: while training, each non-positive element gets its own slope drawn from
/// U(lower, upper) (the global generator); in evaluation the slope is (lower + upper) / 2.
/// Throws ValueError unless lower <= upper.
///
/// Example:
///     nn::RReLU act(nn::RReLUOptions().lower(0.1).upper(0.3));
class RReLU : public Module {
    LAZYNN_MODULE(RReLU)
public:
    explicit RReLU(RReLUOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const RReLUOptions& options() const { return options_; }

private:
    RReLUOptions options_;
};

struct ShrinkOptions {
    ShrinkOptions(double lambda = 0.5) : lambda_(lambda) {}  // NOLINT(google-explicit-constructor): Hardshrink(0.3)
    /// The half-width of the band around 0 that becomes 0.
    LAZYNN_ARG(double, lambda);
};
/// PyTorch's names of the two shrink layers' options.
using HardshrinkOptions = ShrinkOptions;
using SoftshrinkOptions = ShrinkOptions;

/// x where |x| > lambda, 0 inside [-lambda, lambda] (the gradient is 0 there too).
///
/// Example:
///     nn::Hardshrink act(0.3);   // or nn::Hardshrink() for lambda 0.5
class Hardshrink : public Module {
    LAZYNN_MODULE(Hardshrink)
public:
    explicit Hardshrink(HardshrinkOptions options = {}) : options_(options) { set_name("Hardshrink"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const HardshrinkOptions& options() const { return options_; }

private:
    HardshrinkOptions options_;
};

/// x - lambda above lambda, x + lambda below -lambda, 0 between. Throws ValueError for lambda < 0
/// (PyTorch raises at the first forward; lazynn at construction).
///
/// Example:
///     nn::Softshrink act(0.3);
class Softshrink : public Module {
    LAZYNN_MODULE(Softshrink)
public:
    explicit Softshrink(SoftshrinkOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const SoftshrinkOptions& options() const { return options_; }

private:
    SoftshrinkOptions options_;
};

/// x - tanh(x).
///
/// Example:
///     nn::Tanhshrink act;
class Tanhshrink : public Module {
    LAZYNN_MODULE(Tanhshrink)
public:
    Tanhshrink() { set_name("Tanhshrink"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input - input.tanh(); }
};

struct GLUOptions {
    GLUOptions(std::int64_t dim = -1) : dim_(dim) {}  // NOLINT(google-explicit-constructor): GLU(1)
    /// The dimension split in half; its size must be even.
    LAZYNN_ARG(std::int64_t, dim);
};

/// Gated linear unit: a * sigmoid(b), where a and b are the two halves of the input along dim.
/// Throws ShapeError (PyTorch's message) when that size is odd or the input is 0-dim.
///
/// Example:
///     nn::GLU glu;   // [N, 2H] -> [N, H]
class GLU : public Module {
    LAZYNN_MODULE(GLU)
public:
    explicit GLU(GLUOptions options = {}) : options_(options) { set_name("GLU"); }
    /// Shapes: input [..., 2H, ...] (2H at dim) -> output [..., H, ...]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override { return "dim=" + std::to_string(options_.dim()); }
    const GLUOptions& options() const { return options_; }

private:
    GLUOptions options_;
};

/// Softmax over the channels of each position: dim -3 of a [N, C, H, W] or [C, H, W] input.
/// Throws ShapeError for any other number of dimensions.
///
/// Example:
///     nn::Softmax2d act;   // y[n, :, h, w] sums to 1
class Softmax2d : public Module {
    LAZYNN_MODULE(Softmax2d)
public:
    Softmax2d() { set_name("Softmax2d"); }
    /// Shapes: [N, C, H, W] or [C, H, W] -> same
    Tensor forward(const Tensor& input) override;
};

struct PReLUOptions {
    /// 1 (one slope shared by all elements) or the number of channels (dim 1 of the input).
    LAZYNN_ARG(std::int64_t, num_parameters) = 1;
    /// The initial value of every slope.
    LAZYNN_ARG(double, init) = 0.25;
};

/// max(0, x) + weight * min(0, x), with one learnable slope or one per channel (dim 1).
/// Throws ValueError for num_parameters < 1.
///
/// Example:
///     nn::PReLU act(nn::PReLUOptions().num_parameters(16).init(0.1));   // after a 16-channel conv
class PReLU : public Module {
    LAZYNN_MODULE(PReLU)
public:
    explicit PReLU(PReLUOptions options = {});
    /// Shapes: input [*] (channels at dim 1 when num_parameters > 1) -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override { return "num_parameters=" + std::to_string(options_.num_parameters()); }
    const PReLUOptions& options() const { return options_; }
    Parameter weight{this, "weight"};

private:
    PReLUOptions options_;
};

}  // namespace lazynn::nn
