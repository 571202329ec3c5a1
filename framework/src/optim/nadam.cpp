// NAdam: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/nadam.hpp>

namespace lazynn::optim {

using namespace detail;

void NAdam::load_state_dict(const StateDict& sd) {
    // The generic load restores the mu_product tensor (in the parameter's dtype) but update() reads
    // the double, which would restart at 1. Read each one first, so a bad value throws before
    // anything changes; shapes and dtypes are the generic load's checks.
    std::vector<std::pair<const TensorImpl*, double>> products;
    std::int64_t index = 0;
    for (const auto& group : groups_) {
        for (const auto& p : group.params) {
            const std::string key = "state." + std::to_string(index++) + ".mu_product";
            if (!sd.contains(key)) continue;
            const Tensor& t = sd.at(key);
            if (!t.defined() || is_lazy(t) || t.numel() != 1 || t.dtype() == kInt64)
                continue;  // the generic load says why
            const double v = t.item<double>();
            if (!std::isfinite(v))
                throw ValueError("optimizer load_state_dict: '" + key + "' is not finite (" + std::to_string(v) + ")");
            products.emplace_back(p.impl_ptr().get(), v);
        }
    }
    OptimizerBase::load_state_dict(sd);
    for (const auto& [impl, v] : products) {
        if (auto it = state_.find(impl); it != state_.end()) {
            it->second.mu_product = v;
            it->second.mu_product_tensor = scalar_tensor(v, kFloat64);
        }
    }
}

void NAdamOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
    check(0 <= momentum_decay_, "Invalid momentum_decay value", momentum_decay_, optimizer, "momentum_decay >= 0");
}

void NAdam::update(Parameter& p, const Tensor& grad, NAdamState& state, const NAdamOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_avg_sq, p);
    const double t = state.step;
    const double mu = o.beta1() * (1 - 0.5 * std::pow(0.96, t * o.momentum_decay()));
    const double mu_next = o.beta1() * (1 - 0.5 * std::pow(0.96, (t + 1) * o.momentum_decay()));
    state.mu_product *= mu;
    state.mu_product_tensor = scalar_tensor(state.mu_product, kFloat64);
    const double bias2 = 1 - std::pow(o.beta2(), t);
    const double c_grad = o.lr() * (1 - mu) / (1 - state.mu_product);
    const double c_avg = o.lr() * mu_next / (1 - state.mu_product * mu_next);
    fused(p, grad, "NAdam", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* v = data<T>(state.exp_avg_sq);
        const T b1 = static_cast<T>(o.beta1()), b2 = static_cast<T>(o.beta2()), eps = static_cast<T>(o.eps());
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1()), c2 = static_cast<T>(1 - o.beta2());
        const T wd = static_cast<T>(o.weight_decay()), cg = static_cast<T>(c_grad), ca = static_cast<T>(c_avg);
        const T b2s = static_cast<T>(std::sqrt(bias2));
        for (std::int64_t i = begin; i < end; ++i) {
            T d = g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            m[i] = b1 * m[i] + c1 * d;
            v[i] = b2 * v[i] + c2 * d * d;
            const T denom = std::sqrt(v[i]) / b2s + eps;
            w[i] -= cg * d / denom + ca * m[i] / denom;
        }
    });
}

}  // namespace lazynn::optim
