#pragma once
// Rprop (resilient backpropagation): options, per-parameter state and the optimizer, with
// PyTorch 1.13's defaults and update rule. Only the sign of each gradient element is used: each
// element has its own step size, grown by etaplus while the gradient keeps its sign and shrunk by
// etaminus when it flips (and that element then skips one update). Meant for full-batch training.
//
// Example:
//     optim::Rprop opt(model.parameters(), optim::RpropOptions(0.01).etas(0.5, 1.2).step_sizes(1e-6, 50));

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

struct RpropOptions {
    static constexpr const char* kName = "Rprop";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    /// lr is every element's initial step size.
    explicit RpropOptions(double lr = 1e-2) : lr_(lr) {}
    LAZYNN_ARG(double, lr);

public:
    /// PyTorch's etas=(etaminus, etaplus): 0 < etaminus < 1 < etaplus.
    auto& etas(double minus, double plus) {
        etaminus_ = minus;
        etaplus_ = plus;
        return *this;
    }
    /// PyTorch's step_sizes=(min, max): the bounds of every element's step size.
    auto& step_sizes(double min, double max) {
        step_size_min_ = min;
        step_size_max_ = max;
        return *this;
    }
    LAZYNN_ARG(double, etaminus) = 0.5;
    LAZYNN_ARG(double, etaplus) = 1.2;
    LAZYNN_ARG(double, step_size_min) = 1e-6;
    LAZYNN_ARG(double, step_size_max) = 50;
    LAZYNN_ARG(bool, maximize) = false;

public:
    /// Every option by name, for state_dict, param groups and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_},
                {"etaminus", &etaminus_},
                {"etaplus", &etaplus_},
                {"step_size_min", &step_size_min_},
                {"step_size_max", &step_size_max_},
                {"maximize", nullptr, &maximize_}};
    }
};
struct RpropState {
    double step = 0;
    /// The previous step's gradient (0 where that step flipped sign) and each element's step size.
    Tensor prev, step_size;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"prev", &prev}, {"step_size", &step_size}}; }
};
/// Resilient backpropagation: per-element step sizes driven by the gradient's sign.
///
/// Example:
///     optim::Rprop opt(model.parameters());   // lr 0.01, etas (0.5, 1.2), step sizes [1e-6, 50]
class Rprop : public OptimizerBase<RpropOptions, RpropState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    /// One Rprop step, fused (the contract is OptimizerBase::update's).
    void update(Parameter& p, const Tensor& grad, RpropState& state, const RpropOptions& o) override;
};

}  // namespace lazynn::optim
