#pragma once
// Adamax: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::Adamax opt(model.parameters(), optim::AdamaxOptions(2e-3).betas(0.9, 0.999));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct AdamaxOptions {
    static constexpr const char* kName = "Adamax";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdamaxOptions(double lr = 2e-3) : lr_(lr) {}
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
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"beta1", &beta1_},
                {"beta2", &beta2_},
                {"eps", &eps_},
                {"weight_decay", &weight_decay_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct AdamaxState {
    double step = 0;
    Tensor exp_avg, exp_inf;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"exp_avg", &exp_avg}, {"exp_inf", &exp_inf}}; }
};
/// Adam with the infinity norm.
///
/// Example:
///     optim::Adamax opt(model.parameters(), optim::AdamaxOptions());
class Adamax : public OptimizerBase<AdamaxOptions, AdamaxState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One Adamax step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, AdamaxState& state, const AdamaxOptions& o) override;
};

}  // namespace lazynn::optim
