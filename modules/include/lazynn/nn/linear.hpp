#pragma once
// Linear, LazyLinear, Bilinear, LazyBilinear and Identity.

#include <lazynn/arg.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/fusion.hpp>

#include <cstdint>

namespace lazynn::nn {

/// Linear's options (PyTorch's Linear(in_features, out_features, bias=True)).
struct LinearOptions {
    LinearOptions(std::int64_t in_features, std::int64_t out_features)
        : in_features_(in_features), out_features_(out_features) {}
    LAZYNN_ARG(std::int64_t, in_features);
    LAZYNN_ARG(std::int64_t, out_features);
    LAZYNN_ARG(bool, bias) = true;
};

/// y = x W^T + b, initialised like PyTorch: W ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform with
/// a = sqrt(5)) and b ~ U(-1/sqrt(in), 1/sqrt(in)), drawn from the module's own seed.
///
/// Example:
///     nn::Linear fc(nn::LinearOptions(784, 256).bias(false));
///     Tensor y = fc(randn({64, 784}));   // [64, 256]
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
    /// requires: weight and bias materialised. ensures: both redrawn from the module's seed
    /// (the same values every call), PyTorch's distributions.
    virtual void reset_parameters();
    std::string extra_repr() const override;

    std::int64_t in_features() const { return options_.in_features(); }
    std::int64_t out_features() const { return options_.out_features(); }
    const LinearOptions& options() const { return options_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};  // undefined when bias(false)

protected:
    /// For the lazy twin: weight and bias uninitialised.
    Linear(LinearOptions options, Uninitialized);
    /// Materialises weight [out, in] and bias [out] from the options (the lazy protocol).
    void materialize_from_options();
    Tensor forward_then(const Tensor& input, bool relu);
    LinearOptions options_;
};

/// A Linear whose in_features is inferred from the first input's last dimension.
/// Until then weight and bias are UninitializedParameters; afterwards the module is a Linear
/// (name(), printing) with PyTorch's initialisation drawn from its own seed, so LazyLinear(256)
/// and Linear(784, 256) built in the same order under the same manual_seed start identical.
///
/// Example:
///     nn::LazyLinear fc(256);
///     Tensor y = fc(randn({64, 784}));   // fc is now Linear(in_features=784, out_features=256, bias=True)
class LazyLinear : public Lazy<Linear> {
    LAZYNN_MODULE(LazyLinear)
public:
    explicit LazyLinear(std::int64_t out_features, bool bias = true)
        : Lazy<Linear>(LinearOptions(0, out_features).bias(bias)) {}

protected:
    /// in_features = input.size(-1).
    void infer_options(const std::vector<Tensor>& inputs) override;
    /// in_features = weight.size(1), after checking weight [out_features, *] and bias [out_features].
    void lazy_load_finalize() override;
};

/// Bilinear's options (PyTorch's Bilinear(in1_features, in2_features, out_features, bias=True)).
struct BilinearOptions {
    BilinearOptions(std::int64_t in1_features, std::int64_t in2_features, std::int64_t out_features)
        : in1_features_(in1_features), in2_features_(in2_features), out_features_(out_features) {}
    LAZYNN_ARG(std::int64_t, in1_features);
    LAZYNN_ARG(std::int64_t, in2_features);
    LAZYNN_ARG(std::int64_t, out_features);
    LAZYNN_ARG(bool, bias) = true;
};

/// y[k] = x1^T W[k] x2 + b[k] for two inputs, initialised like PyTorch: W and b ~ U(-1/sqrt(in1),
/// 1/sqrt(in1)), drawn from the module's own seed. Runs as one GEMM (x1 against W seen as
/// [in1, out * in2]) and a product-sum with x2.
///
/// Example:
///     nn::Bilinear bilinear(20, 30, 40);
///     Tensor y = bilinear(randn({128, 20}), randn({128, 30}));   // [128, 40]
class Bilinear : public Module {
    LAZYNN_MODULE(Bilinear)
public:
    explicit Bilinear(BilinearOptions options);
    Bilinear(std::int64_t in1_features, std::int64_t in2_features, std::int64_t out_features, bool bias = true)
        : Bilinear(BilinearOptions(in1_features, in2_features, out_features).bias(bias)) {}

    /// Shapes: input1 [*, in1_features], input2 [*, in2_features] (the same leading dims) -> [*, out_features]
    Tensor operator()(const Tensor& input1, const Tensor& input2);
    /// requires: weight and bias materialised. ensures: both redrawn from the module's seed.
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const BilinearOptions& options() const { return options_; }

    Parameter weight{this, "weight"};  // [out_features, in1_features, in2_features]
    Parameter bias{this, "bias"};      // [out_features]; undefined when bias(false)

protected:
    /// For the lazy twin: weight and bias uninitialised.
    Bilinear(BilinearOptions options, Uninitialized);
    /// Materialises weight and bias from the options (the lazy protocol).
    void materialize_from_options();
    Tensor bilinear(const Tensor& input1, const Tensor& input2);
    BilinearOptions options_;
};

/// A Bilinear whose in1_features and in2_features come from the first call's two inputs (their
/// last dimensions). PyTorch has no LazyBilinear; this one follows the same protocol as the others.
///
/// Example:
///     nn::LazyBilinear bilinear(40);
///     Tensor y = bilinear(randn({128, 20}), randn({128, 30}));   // now Bilinear(20, 30, 40)
class LazyBilinear : public Lazy<Bilinear> {
    LAZYNN_MODULE(LazyBilinear)
public:
    explicit LazyBilinear(std::int64_t out_features, bool bias = true)
        : Lazy<Bilinear>(BilinearOptions(0, 0, out_features).bias(bias)) {}

protected:
    /// in1_features = inputs[0].size(-1), in2_features = inputs[1].size(-1).
    void infer_options(const std::vector<Tensor>& inputs) override;
    /// Both from weight [out_features, in1, in2], after checking it and bias [out_features].
    void lazy_load_finalize() override;
};

/// Returns its input unchanged.
///
/// Example:
///     nn::Identity id;
///     Tensor y = id(x);   // y is x
class Identity : public Module {
    LAZYNN_MODULE(Identity)
public:
    Identity();
    /// Shapes: input [*] -> output [*] (the same tensor)
    Tensor forward(const Tensor& input) override { return input; }
};

}  // namespace lazynn::nn
