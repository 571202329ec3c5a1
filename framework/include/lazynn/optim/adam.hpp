#pragma once
// Adam and AdamW: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::Adam adam(model.parameters(), optim::AdamOptions(1e-3).betas(0.9, 0.99).weight_decay(1e-4));
//     optim::AdamW adamw(model.parameters(), optim::AdamWOptions(1e-3));   // weight_decay 1e-2

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct AdamOptions {
    static constexpr const char* kName = "Adam";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
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
    LAZYNN_ARG(bool, amsgrad) = false;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"beta1", &beta1_},
                {"beta2", &beta2_},
                {"eps", &eps_},
                {"weight_decay", &weight_decay_},
                {"amsgrad", nullptr, &amsgrad_},
                {"maximize", nullptr, &maximize_}};
    }
};
/// AdamW's weight decay default is 1e-2, as in PyTorch.
struct AdamWOptions : AdamOptions {
    explicit AdamWOptions(double lr = 1e-3) : AdamOptions(lr) { weight_decay(1e-2); }
};
struct AdamState {
    double step = 0;
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}, {"max_exp_avg_sq", &max_exp_avg_sq}};
    }
};
/// Adam (Kingma and Ba) with optional AMSGrad and L2 weight decay.
///
/// Example:
///     optim::Adam adam(model.parameters(), optim::AdamOptions(1e-3).amsgrad(true));
class Adam : public OptimizerBase<AdamOptions, AdamState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One Adam step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, AdamState& state, const AdamOptions& o) override;
    bool decoupled_weight_decay_ = false;
};
/// Adam with decoupled weight decay (Loshchilov and Hutter).
///
/// Example:
///     optim::AdamW adamw(model.parameters(), optim::AdamWOptions(1e-3).weight_decay(0.05));
class AdamW : public Adam {
public:
    /// Pass AdamWOptions for its defaults (weight_decay 1e-2); any AdamOptions is accepted.
    AdamW(std::vector<Parameter> params, AdamOptions options = AdamWOptions());
    AdamW(std::vector<ParamGroup> groups, AdamOptions options = AdamWOptions());
};

}  // namespace lazynn::optim
