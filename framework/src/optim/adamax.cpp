// Adamax: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/adamax.hpp>

namespace lazynn::optim {

using namespace detail;

void AdamaxOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

void Adamax::update(Parameter& p, const Tensor& grad, AdamaxState& state, const AdamaxOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_inf, p);
    const double clr = o.lr() / (1 - std::pow(o.beta1(), state.step));
    fused(p, grad, "Adamax", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* u = data<T>(state.exp_inf);
        const T b1 = static_cast<T>(o.beta1()), b2 = static_cast<T>(o.beta2()), eps = static_cast<T>(o.eps());
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1());
        const T wd = static_cast<T>(o.weight_decay()), c = static_cast<T>(clr);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            m[i] = b1 * m[i] + c1 * d;
            u[i] = std::max(b2 * u[i], std::abs(d) + eps);
            w[i] -= c * m[i] / u[i];
        }
    });
}

}  // namespace lazynn::optim
