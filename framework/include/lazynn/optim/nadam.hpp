#pragma once
// NAdam: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::NAdam opt(model.parameters(), optim::NAdamOptions(2e-3).momentum_decay(4e-3));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

#include <array>
#include <string_view>

namespace lazynn::optim {

struct NAdamOptions {
    static constexpr const char* kName = "NAdam";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit NAdamOptions(double lr = 2e-3) : lr_(lr) {}
    LAZYNN_ARG(double, lr);

public:
    /// PyTorch's betas=(beta1, beta2).
    auto& betas(double b1, double b2) {
        beta1_ = b1;
        beta2_ = b2;
        return *this;
    }
    LAZYNN_ARG(double, beta1) = 0.9;
    LAZYNN_ARG(double, beta2) = 0.999;
    LAZYNN_ARG(double, eps) = 1e-8;
    LAZYNN_ARG(double, weight_decay) = 0;
    LAZYNN_ARG(double, momentum_decay) = 4e-3;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"beta1", &beta1_},
                {"beta2", &beta2_},
                {"eps", &eps_},
                {"weight_decay", &weight_decay_},
                {"momentum_decay", &momentum_decay_}};
    }
};
struct NAdamState {
    double step = 0;
    double mu_product = 1.0;
    Tensor exp_avg, exp_avg_sq, mu_product_tensor;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}, {"mu_product", &mu_product_tensor}};
    }
    /// mu_product holds one number per parameter.
    static constexpr std::array<std::string_view, 1> kScalarTensors{"mu_product"};
};
/// Adam with Nesterov momentum and momentum decay.
///
/// Example:
///     optim::NAdam opt(model.parameters(), optim::NAdamOptions(2e-3));
class NAdam : public OptimizerBase<NAdamOptions, NAdamState> {
public:
    using OptimizerBase::OptimizerBase;
    /// The generic load, plus each parameter's mu_product read back at full precision (the update
    /// multiplies it on, so a resumed run continues bit-identically).
    void load_state_dict(const StateDict& sd) override;

protected:
    /// One NAdam step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, NAdamState& state, const NAdamOptions& o) override;
};

}  // namespace lazynn::optim
