#pragma once
// ASGD (averaged stochastic gradient descent, Polyak and Juditsky): options, per-parameter state
// and the optimizer, with PyTorch 1.13's defaults and update rule. The parameters take SGD steps
// with a decaying rate eta; the state keeps their running average `ax`, which starts averaging
// after t0 steps (use it for evaluation: ASGD::averaged(p)).
//
// Example:
//     optim::ASGD opt(model.parameters(), optim::ASGDOptions(0.01).t0(1000));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

#include <array>
#include <string_view>

namespace lazynn::optim {

struct ASGDOptions {
    static constexpr const char* kName = "ASGD";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit ASGDOptions(double lr = 1e-2) : lr_(lr) {}
    LAZYNN_ARG(double, lr);

public:
    /// The decay term: eta = lr / (1 + lambd * lr * step)^alpha, and each step scales the
    /// parameter by 1 - lambd * eta.
    LAZYNN_ARG(double, lambd) = 1e-4;
    LAZYNN_ARG(double, alpha) = 0.75;
    /// The step after which averaging starts.
    LAZYNN_ARG(double, t0) = 1e6;
    LAZYNN_ARG(double, weight_decay) = 0;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by PyTorch's name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"lambd", &lambd_},
                {"alpha", &alpha_},
                {"t0", &t0_},
                {"weight_decay", &weight_decay_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct ASGDState {
    double step = 0;
    /// eta (the current rate) and mu (the averaging weight) are 0-dim float32 tensors, as
    /// PyTorch keeps them: their float32 rounding is part of its trajectory. ax is the average.
    Tensor eta, mu, ax;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"eta", &eta}, {"mu", &mu}, {"ax", &ax}}; }
    /// The state entries that hold one number rather than a tensor shaped like the parameter.
    static constexpr std::array<std::string_view, 2> kScalarTensors{"eta", "mu"};
};
/// Averaged SGD.
///
/// Example:
///     optim::ASGD opt(model.parameters(), optim::ASGDOptions(0.05).t0(100));
///     ...                                   // train
///     Tensor w_avg = opt.averaged(model.get_parameter("fc.weight"));
class ASGD : public OptimizerBase<ASGDOptions, ASGDState> {
public:
    using OptimizerBase::OptimizerBase;
    /// The running average of `p` (the state's ax); undefined before p's first step.
    Tensor averaged(const Parameter& p);

protected:
    /// One ASGD step (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, ASGDState& state, const ASGDOptions& o) override;
};

}  // namespace lazynn::optim
