#pragma once
// RMSprop: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::RMSprop opt(model.parameters(), optim::RMSpropOptions(1e-2).alpha(0.9).centered(true));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct RMSpropOptions {
    static constexpr const char* kName = "RMSprop";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
    LAZYNN_ARG(double, lr);
    LAZYNN_ARG(double, alpha) = 0.99;
    LAZYNN_ARG(double, eps) = 1e-8;
    LAZYNN_ARG(double, weight_decay) = 0;
    LAZYNN_ARG(double, momentum) = 0;
    LAZYNN_ARG(bool, centered) = false;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"alpha", &alpha_},
                {"eps", &eps_},
                {"weight_decay", &weight_decay_},
                {"momentum", &momentum_},
                {"centered", nullptr, &centered_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct RMSpropState {
    double step = 0;
    Tensor square_avg, momentum_buffer, grad_avg;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"square_avg", &square_avg}, {"momentum_buffer", &momentum_buffer}, {"grad_avg", &grad_avg}};
    }
};
/// RMSprop with optional momentum and centring.
///
/// Example:
///     optim::RMSprop opt(model.parameters(), optim::RMSpropOptions(1e-2).momentum(0.9));
class RMSprop : public OptimizerBase<RMSpropOptions, RMSpropState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One RMSprop step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, RMSpropState& state, const RMSpropOptions& o) override;
};

}  // namespace lazynn::optim
