#pragma once
// Elementwise activation layers.

#include <lazynn/module.hpp>

#include <string>

namespace lazynn::nn {

/// max(0, x). Shapes: input [*] -> output [*]
class ReLU : public Module {
    LAZYNN_MODULE(ReLU)
public:
    ReLU() { set_name("ReLU"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.relu(); }
};

/// 1 / (1 + exp(-x)).
class Sigmoid : public Module {
    LAZYNN_MODULE(Sigmoid)
public:
    Sigmoid() { set_name("Sigmoid"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.sigmoid(); }
};

/// tanh(x).
class Tanh : public Module {
    LAZYNN_MODULE(Tanh)
public:
    Tanh() { set_name("Tanh"); }
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.tanh(); }
};

struct GELUOptions {
    GELUOptions(std::string approximate = "none") : approximate_(std::move(approximate)) {}  // NOLINT: GELU("tanh")
    GELUOptions& approximate(std::string a) { approximate_ = std::move(a); return *this; }
    std::string approximate_;
};

/// x * Phi(x), exactly ("none") or with the tanh approximation ("tanh").
class GELU : public Module {
    LAZYNN_MODULE(GELU)
public:
    explicit GELU(GELUOptions options = {});
    /// Shapes: input [*] -> output [*]
    Tensor forward(const Tensor& input) override { return input.gelu(options_.approximate_ == "tanh"); }
    std::string extra_repr() const override { return "approximate='" + options_.approximate_ + "'"; }

private:
    GELUOptions options_;
};

}  // namespace lazynn::nn

namespace lazynn::nn {

/// An activation whose forward is a fixed function of its input (plus constructor arguments).
#define LAZYNN_ACTIVATION(Class, Members, ...)                                        \
    class Class : public Module {                                                        \
        LAZYNN_MODULE(Class)                                                             \
    public:                                                                              \
        explicit Class(__VA_ARGS__);                                                     \
        /** Shapes: input [*] -> output [*] */                                           \
        Tensor forward(const Tensor& input) override;                                    \
        std::string extra_repr() const override;                                         \
                                                                                         \
    private:                                                                             \
        Members                                                                          \
    }

LAZYNN_ACTIVATION(ReLU6, , );
LAZYNN_ACTIVATION(LeakyReLU, double negative_slope_;, double negative_slope = 0.01);
LAZYNN_ACTIVATION(ELU, double alpha_;, double alpha = 1.0);
LAZYNN_ACTIVATION(CELU, double alpha_;, double alpha = 1.0);
LAZYNN_ACTIVATION(SELU, , );
LAZYNN_ACTIVATION(SiLU, , );
LAZYNN_ACTIVATION(Mish, , );
LAZYNN_ACTIVATION(Hardswish, , );
LAZYNN_ACTIVATION(Hardsigmoid, , );
LAZYNN_ACTIVATION(Hardtanh, double min_val_; double max_val_;, double min_val = -1.0, double max_val = 1.0);
LAZYNN_ACTIVATION(Softplus, double beta_; double threshold_;, double beta = 1.0, double threshold = 20.0);
LAZYNN_ACTIVATION(Softsign, , );
LAZYNN_ACTIVATION(LogSigmoid, , );
LAZYNN_ACTIVATION(Threshold, double threshold_; double value_;, double threshold, double value);
LAZYNN_ACTIVATION(Softmax, std::int64_t dim_;, std::int64_t dim);
LAZYNN_ACTIVATION(LogSoftmax, std::int64_t dim_;, std::int64_t dim);
LAZYNN_ACTIVATION(Softmin, std::int64_t dim_;, std::int64_t dim);
#undef LAZYNN_ACTIVATION

/// max(0, x) + weight * min(0, x), with one learnable slope or one per channel (dim 1).
class PReLU : public Module {
    LAZYNN_MODULE(PReLU)
public:
    explicit PReLU(std::int64_t num_parameters = 1, double init = 0.25);
    /// Shapes: input [*] (channels at dim 1 when num_parameters > 1) -> output [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override { return "num_parameters=" + std::to_string(num_parameters_); }
    Parameter weight{this, "weight"};

private:
    std::int64_t num_parameters_;
};

}  // namespace lazynn::nn
