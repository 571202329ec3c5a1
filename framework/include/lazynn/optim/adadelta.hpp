#pragma once
// Adadelta: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::Adadelta opt(model.parameters(), optim::AdadeltaOptions(1.0).rho(0.95));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct AdadeltaOptions {
    static constexpr const char* kName = "Adadelta";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
    LAZYNN_ARG(double, lr);
    LAZYNN_ARG(double, rho) = 0.9;
    LAZYNN_ARG(double, eps) = 1e-6;
    LAZYNN_ARG(double, weight_decay) = 0;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"rho", &rho_},
                {"eps", &eps_},
                {"weight_decay", &weight_decay_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct AdadeltaState {
    double step = 0;
    Tensor square_avg, acc_delta;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"square_avg", &square_avg}, {"acc_delta", &acc_delta}};
    }
};
/// Adadelta (Zeiler).
///
/// Example:
///     optim::Adadelta opt(model.parameters(), optim::AdadeltaOptions());
class Adadelta : public OptimizerBase<AdadeltaOptions, AdadeltaState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One Adadelta step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, AdadeltaState& state, const AdadeltaOptions& o) override;
};

}  // namespace lazynn::optim
