#pragma once
// Linear, LazyLinear and Identity.

#include <lazynn/module.hpp>
#include <lazynn/nn/fusion.hpp>

#include <cstdint>

namespace lazynn::nn {

struct LinearOptions {
    LinearOptions(std::int64_t in_features, std::int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
    LinearOptions& bias(bool b) { bias_ = b; return *this; }
    std::int64_t in_features_;
    std::int64_t out_features_;
    bool bias_ = true;
};

/// y = x W^T + b, initialised like PyTorch: W ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with
/// a = sqrt(5)) and b ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from the module's own seed.
class Linear : public Module, public FusesFollowingReLU {
    LAZYNN_MODULE(Linear)
public:
    explicit Linear(LinearOptions options);
    Linear(std::int64_t in_features, std::int64_t out_features, bool bias = true)
        : Linear(LinearOptions(in_features, out_features).bias(bias)) {}

    /// Shapes: input [*, in_features] -> output [*, out_features]
    Tensor forward(const Tensor& input) override { return forward_then(input, false); }
    /// relu(forward(input)) in one pass (no hooks run): Sequential's fusion of a following ReLU.
    Tensor forward_relu(const Tensor& input) override { return forward_then(input, true); }
    virtual void reset_parameters();
    std::string extra_repr() const override;

    std::int64_t in_features() const { return options_.in_features_; }
    std::int64_t out_features() const { return options_.out_features_; }
    const LinearOptions& options() const { return options_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};   // undefined when bias(false)

protected:
    struct Uninitialized {};
    /// For LazyLinear: the same registry with uninitialised weight and bias.
    Linear(LinearOptions options, Uninitialized);
    Tensor forward_then(const Tensor& input, bool relu);
    LinearOptions options_;
};

/// A Linear whose in_features is inferred from the first input's last dimension.
/// Until then weight and bias are UninitializedParameters; afterwards the module is a Linear
/// (name(), printing) with PyTorch's initialisation drawn from its own seed, so LazyLinear(256)
/// and Linear(784, 256) built in the same order under the same manual_seed start identical.
class LazyLinear : public Linear {
    LAZYNN_MODULE(LazyLinear)
public:
    explicit LazyLinear(std::int64_t out_features, bool bias = true);

    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void initialize_parameters(const Tensor& input);
    /// A silent no-op until the sizes are known (PyTorch's guard).
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

/// Returns its input unchanged.
class Identity : public Module {
    LAZYNN_MODULE(Identity)
public:
    Identity();
    /// Shapes: input [*] -> output [*] (the same tensor)
    Tensor forward(const Tensor& input) override { return input; }
};

}  // namespace lazynn::nn
