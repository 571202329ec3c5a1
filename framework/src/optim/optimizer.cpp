// The Optimizer base: gradients, group options by name, the initial lr, and gradient clipping.
#include <lazynn/optim/optimizer.hpp>

#include <cmath>

namespace lazynn::optim {

void Optimizer::zero_grad(bool set_to_none) {
    for (std::size_t g = 0; g < num_param_groups(); ++g) {
        for (auto& p : group_params(g)) {
            Tensor grad = p.grad();
            if (!grad.defined()) continue;
            if (set_to_none) {
                p.set_grad(Tensor());
            } else {
                NoGradGuard no_grad;
                grad.detach_();
                grad.zero_();
            }
        }
    }
}

OptionField* Optimizer::find_option(std::vector<OptionField>& fields, const std::string& name) {
    for (auto& f : fields) {
        if (name == f.name) return &f;
    }
    return nullptr;
}

double Optimizer::initial_lr(std::size_t group) { return initial_lrs_.try_emplace(group, lr(group)).first->second; }

double Optimizer::lr(std::size_t group) {
    auto fields = group_options(group);
    return *find_option(fields, "lr")->number;
}

void Optimizer::set_lr(double lr, std::size_t group) {
    auto fields = group_options(group);
    *find_option(fields, "lr")->number = lr;
}

double clip_grad_norm_(const std::vector<Parameter>& parameters, double max_norm, double norm_type) {
    double total = 0;
    const bool inf_norm = std::isinf(norm_type);
    for (const auto& p : parameters) {
        if (!p.defined() || is_lazy(p) || !p.grad().defined()) continue;
        for (double v : p.grad().to_vector<double>()) {
            if (inf_norm)
                total = std::max(total, std::abs(v));
            else
                total += std::pow(std::abs(v), norm_type);
        }
    }
    if (!inf_norm) total = std::pow(total, 1.0 / norm_type);
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1) {
        NoGradGuard no_grad;
        for (const auto& p : parameters) {
            if (!p.defined() || is_lazy(p) || !p.grad().defined()) continue;
            Tensor g = p.grad();
            g.mul_(coef);
        }
    }
    return total;
}

void clip_grad_value_(const std::vector<Parameter>& parameters, double clip_value) {
    NoGradGuard no_grad;
    for (const auto& p : parameters) {
        if (!p.defined() || is_lazy(p) || !p.grad().defined()) continue;
        Tensor g = p.grad();
        g.clamp_(-clip_value, clip_value);
    }
}

}  // namespace lazynn::optim
