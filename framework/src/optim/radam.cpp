// RAdam: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/radam.hpp>

namespace lazynn::optim {

using namespace detail;

void RAdamOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

void RAdam::update(Parameter& p, const Tensor& grad, RAdamState& state, const RAdamOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_avg_sq, p);
    const double t = state.step;
    const double bias1 = 1 - std::pow(o.beta1(), t);
    const double bias2 = 1 - std::pow(o.beta2(), t);
    const double rho_inf = 2 / (1 - o.beta2()) - 1;
    const double rho_t = rho_inf - 2 * t * std::pow(o.beta2(), t) / bias2;
    const bool rectify = rho_t > 5;
    const double rect =
        rectify ? std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 0.0;
    fused(p, grad, "RAdam", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* v = data<T>(state.exp_avg_sq);
        const T b1 = static_cast<T>(o.beta1()), b2 = static_cast<T>(o.beta2()), eps = static_cast<T>(o.eps());
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1()), c2 = static_cast<T>(1 - o.beta2());
        const T wd = static_cast<T>(o.weight_decay()), lr = static_cast<T>(o.lr());
        const T b1c = static_cast<T>(bias1), b2s = static_cast<T>(std::sqrt(bias2)), r = static_cast<T>(rect);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            m[i] = b1 * m[i] + c1 * d;
            v[i] = b2 * v[i] + c2 * d * d;
            const T corrected = m[i] / b1c;
            if (rectify)
                w[i] -= lr * corrected * r * (b2s / (std::sqrt(v[i]) + eps));
            else
                w[i] -= lr * corrected;
        }
    });
}

}  // namespace lazynn::optim
