#pragma once
// SGD: options, per-parameter state and the optimizer (PyTorch 1.13's defaults and
// update rule). Options take the learning rate in the constructor and the rest through
// LAZYNN_ARG setters (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct SGDOptions {
    static constexpr const char* kName = "SGD";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit SGDOptions(double lr = 1e-3) : lr_(lr) {}
    LAZYNN_ARG(double, lr);
    LAZYNN_ARG(double, momentum) = 0;
    LAZYNN_ARG(double, dampening) = 0;
    LAZYNN_ARG(double, weight_decay) = 0;
    LAZYNN_ARG(bool, nesterov) = false;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"momentum", &momentum_},
                {"dampening", &dampening_},
                {"weight_decay", &weight_decay_},
                {"nesterov", nullptr, &nesterov_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct SGDState {
    double step = 0;
    Tensor momentum_buffer;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"momentum_buffer", &momentum_buffer}}; }
};
/// Stochastic gradient descent with optional momentum, dampening, Nesterov and weight decay.
///
/// Example:
///     optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9));
class SGD : public OptimizerBase<SGDOptions, SGDState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One SGD step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, SGDState& state, const SGDOptions& o) override;
};

}  // namespace lazynn::optim
