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
