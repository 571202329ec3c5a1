#pragma once
// The optimizers, with PyTorch's defaults and update rules:
// SGD, Adam, AdamW, Adamax, NAdam, RAdam, RMSprop, Adagrad, Adadelta.
// Options structs take the learning rate in the constructor and the rest through fluent setters:
//     optim::SGD sgd(model.parameters(), optim::SGDOptions(0.1).momentum(0.9).nesterov(true));

#include <lazynn/optim/optimizer.hpp>

namespace lazynn::optim {

#define LAZYNN_OPTION(Type, name, field) \
    auto& name(Type v) {                 \
        field = v;                       \
        return *this;                    \
    }

// ---------------------------------------------------------------- SGD
struct SGDOptions {
    static constexpr const char* kName = "SGD";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit SGDOptions(double lr = 1e-3) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    LAZYNN_OPTION(double, momentum, momentum_)
    LAZYNN_OPTION(double, dampening, dampening_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(bool, nesterov, nesterov_)
    LAZYNN_OPTION(bool, maximize, maximize_)
    double lr_, momentum_ = 0, dampening_ = 0, weight_decay_ = 0;
    bool nesterov_ = false, maximize_ = false;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"momentum", &momentum_}, {"dampening", &dampening_}, {"weight_decay", &weight_decay_},
                {"nesterov", nullptr, &nesterov_}, {"maximize", nullptr, &maximize_}};
    }
};
struct SGDState {
    double step = 0;
    Tensor momentum_buffer;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"momentum_buffer", &momentum_buffer}}; }
};
class SGD : public OptimizerBase<SGDOptions, SGDState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, SGDState& state, const SGDOptions& o) override;
};

// ---------------------------------------------------------------- Adam / AdamW
struct AdamOptions {
    static constexpr const char* kName = "Adam";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdamOptions(double lr = 1e-3) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    auto& betas(double b1, double b2) {
        beta1_ = b1;
        beta2_ = b2;
        return *this;
    }
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(bool, amsgrad, amsgrad_)
    LAZYNN_OPTION(bool, maximize, maximize_)
    double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0;
    bool amsgrad_ = false, maximize_ = false;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"beta1", &beta1_}, {"beta2", &beta2_}, {"eps", &eps_}, {"weight_decay", &weight_decay_},
                {"amsgrad", nullptr, &amsgrad_}, {"maximize", nullptr, &maximize_}};
    }
};
/// AdamW's weight decay default is 1e-2, as in PyTorch.
struct AdamWOptions : AdamOptions {
    explicit AdamWOptions(double lr = 1e-3) : AdamOptions(lr) { weight_decay_ = 1e-2; }
};
struct AdamState {
    double step = 0;
    Tensor exp_avg, exp_avg_sq, max_exp_avg_sq;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}, {"max_exp_avg_sq", &max_exp_avg_sq}};
    }
};
class Adam : public OptimizerBase<AdamOptions, AdamState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, AdamState& state, const AdamOptions& o) override;
    bool decoupled_weight_decay_ = false;
};
class AdamW : public Adam {
public:
    /// Pass AdamWOptions for its defaults (weight_decay 1e-2); any AdamOptions is accepted.
    AdamW(std::vector<Parameter> params, AdamOptions options = AdamWOptions());
    AdamW(std::vector<ParamGroup> groups, AdamOptions options = AdamWOptions());
};

// ---------------------------------------------------------------- Adamax
struct AdamaxOptions {
    static constexpr const char* kName = "Adamax";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdamaxOptions(double lr = 2e-3) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    auto& betas(double b1, double b2) {
        beta1_ = b1;
        beta2_ = b2;
        return *this;
    }
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(bool, maximize, maximize_)
    double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0;
    bool maximize_ = false;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"beta1", &beta1_}, {"beta2", &beta2_}, {"eps", &eps_}, {"weight_decay", &weight_decay_}, {"maximize", nullptr, &maximize_}};
    }
};
struct AdamaxState {
    double step = 0;
    Tensor exp_avg, exp_inf;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"exp_avg", &exp_avg}, {"exp_inf", &exp_inf}}; }
};
class Adamax : public OptimizerBase<AdamaxOptions, AdamaxState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, AdamaxState& state, const AdamaxOptions& o) override;
};

// ---------------------------------------------------------------- NAdam
struct NAdamOptions {
    static constexpr const char* kName = "NAdam";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit NAdamOptions(double lr = 2e-3) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    auto& betas(double b1, double b2) {
        beta1_ = b1;
        beta2_ = b2;
        return *this;
    }
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(double, momentum_decay, momentum_decay_)
    double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0, momentum_decay_ = 4e-3;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"beta1", &beta1_}, {"beta2", &beta2_}, {"eps", &eps_}, {"weight_decay", &weight_decay_},
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
};
class NAdam : public OptimizerBase<NAdamOptions, NAdamState> {
public:
    using OptimizerBase::OptimizerBase;
    /// The generic load, plus each parameter's mu_product read back at full precision (the update
    /// multiplies it on, so a resumed run continues bit-identically).
    void load_state_dict(const StateDict& sd) override;

protected:
    void update(Parameter& p, const Tensor& grad, NAdamState& state, const NAdamOptions& o) override;
};

// ---------------------------------------------------------------- RAdam
struct RAdamOptions {
    static constexpr const char* kName = "RAdam";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit RAdamOptions(double lr = 1e-3) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    auto& betas(double b1, double b2) {
        beta1_ = b1;
        beta2_ = b2;
        return *this;
    }
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    double lr_, beta1_ = 0.9, beta2_ = 0.999, eps_ = 1e-8, weight_decay_ = 0;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"beta1", &beta1_}, {"beta2", &beta2_}, {"eps", &eps_}, {"weight_decay", &weight_decay_}};
    }
};
struct RAdamState {
    double step = 0;
    Tensor exp_avg, exp_avg_sq;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"exp_avg", &exp_avg}, {"exp_avg_sq", &exp_avg_sq}}; }
};
class RAdam : public OptimizerBase<RAdamOptions, RAdamState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, RAdamState& state, const RAdamOptions& o) override;
};

// ---------------------------------------------------------------- RMSprop
struct RMSpropOptions {
    static constexpr const char* kName = "RMSprop";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit RMSpropOptions(double lr = 1e-2) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    LAZYNN_OPTION(double, alpha, alpha_)
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(double, momentum, momentum_)
    LAZYNN_OPTION(bool, centered, centered_)
    LAZYNN_OPTION(bool, maximize, maximize_)
    double lr_, alpha_ = 0.99, eps_ = 1e-8, weight_decay_ = 0, momentum_ = 0;
    bool centered_ = false, maximize_ = false;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"alpha", &alpha_}, {"eps", &eps_}, {"weight_decay", &weight_decay_}, {"momentum", &momentum_},
                {"centered", nullptr, &centered_}, {"maximize", nullptr, &maximize_}};
    }
};
struct RMSpropState {
    double step = 0;
    Tensor square_avg, momentum_buffer, grad_avg;
    std::vector<std::pair<const char*, Tensor*>> tensors() {
        return {{"square_avg", &square_avg}, {"momentum_buffer", &momentum_buffer}, {"grad_avg", &grad_avg}};
    }
};
class RMSprop : public OptimizerBase<RMSpropOptions, RMSpropState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, RMSpropState& state, const RMSpropOptions& o) override;
};

// ---------------------------------------------------------------- Adagrad
struct AdagradOptions {
    static constexpr const char* kName = "Adagrad";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdagradOptions(double lr = 1e-2) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    LAZYNN_OPTION(double, lr_decay, lr_decay_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(double, initial_accumulator_value, initial_accumulator_value_)
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(bool, maximize, maximize_)
    double lr_, lr_decay_ = 0, weight_decay_ = 0, initial_accumulator_value_ = 0, eps_ = 1e-10;
    bool maximize_ = false;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"lr_decay", &lr_decay_}, {"weight_decay", &weight_decay_},
                {"initial_accumulator_value", &initial_accumulator_value_}, {"eps", &eps_}, {"maximize", nullptr, &maximize_}};
    }
};
struct AdagradState {
    double step = 0;
    Tensor sum;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"sum", &sum}}; }
};
/// Unlike PyTorch's, its state is created on the first step, so it works when built on a lazy
/// model before the first forward.
class Adagrad : public OptimizerBase<AdagradOptions, AdagradState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, AdagradState& state, const AdagradOptions& o) override;
};

// ---------------------------------------------------------------- Adadelta
struct AdadeltaOptions {
    static constexpr const char* kName = "Adadelta";
    /// PyTorch's argument checks (ValueError with its message, naming `optimizer`).
    void validate(const char* optimizer) const;
    explicit AdadeltaOptions(double lr = 1.0) : lr_(lr) {}
    LAZYNN_OPTION(double, lr, lr_)
    LAZYNN_OPTION(double, rho, rho_)
    LAZYNN_OPTION(double, eps, eps_)
    LAZYNN_OPTION(double, weight_decay, weight_decay_)
    LAZYNN_OPTION(bool, maximize, maximize_)
    double lr_, rho_ = 0.9, eps_ = 1e-6, weight_decay_ = 0;
    bool maximize_ = false;
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"rho", &rho_}, {"eps", &eps_}, {"weight_decay", &weight_decay_}, {"maximize", nullptr, &maximize_}};
    }
};
struct AdadeltaState {
    double step = 0;
    Tensor square_avg, acc_delta;
    std::vector<std::pair<const char*, Tensor*>> tensors() { return {{"square_avg", &square_avg}, {"acc_delta", &acc_delta}}; }
};
class Adadelta : public OptimizerBase<AdadeltaOptions, AdadeltaState> {
public:
    using OptimizerBase::OptimizerBase;

protected:
    void update(Parameter& p, const Tensor& grad, AdadeltaState& state, const AdadeltaOptions& o) override;
};

#undef LAZYNN_OPTION

}  // namespace lazynn::optim
