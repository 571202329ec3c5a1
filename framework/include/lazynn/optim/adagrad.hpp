#pragma once
// Adagrad: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::Adagrad opt(model.parameters(), optim::AdagradOptions(1e-2).lr_decay(1e-4));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct AdagradOptions {
    static constexpr const char* kName = "Adagrad";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
    LAZYNN_ARG(double, lr);
    LAZYNN_ARG(double, lr_decay) = 0;
    LAZYNN_ARG(double, weight_decay) = 0;
    LAZYNN_ARG(double, initial_accumulator_value) = 0;
    LAZYNN_ARG(double, eps) = 1e-10;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"lr_decay", &lr_decay_},
                {"weight_decay", &weight_decay_},
                {"initial_accumulator_value", &initial_accumulator_value_},
                {"eps", &eps_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct AdagradState {
    double step = 0;
    Tensor sum;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"sum", &sum}}; }
};
/// Adagrad with optional lr decay.
/// Unlike PyTorch's, its state is created on the first step, so it works when built on a lazy
/// model before the first forward.
///
/// Example:
///     optim::Adagrad opt(model.parameters(), optim::AdagradOptions(0.1));
class Adagrad : public OptimizerBase<AdagradOptions, AdagradState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One Adagrad step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, AdagradState& state, const AdagradOptions& o) override;
};

}  // namespace lazynn::optim
