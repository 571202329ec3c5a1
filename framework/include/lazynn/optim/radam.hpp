#pragma once
// RAdam: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::RAdam opt(model.parameters(), optim::RAdamOptions(1e-3).weight_decay(1e-4));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct RAdamOptions {
    static constexpr const char* kName = "RAdam";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit RAdamOptions(double lr = 1e-3) : lr_(lr) {}
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

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"beta1", &beta1_}, {"beta2", &beta2_}, {"eps", &eps_}, {"weight_decay", &weight_decay_}};
    }
};
struct RAdamState {
    double step = 0;
    Tensor exp_avg, exp_avg_sq;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}};
    }
};
/// Rectified Adam: plain momentum SGD until the variance estimate is reliable.
///
/// Example:
///     optim::RAdam opt(model.parameters(), optim::RAdamOptions(1e-3));
class RAdam : public OptimizerBase<RAdamOptions, RAdamState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One RAdam step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, RAdamState& state, const RAdamOptions& o) override;
};

}  // namespace lazynn::optim
