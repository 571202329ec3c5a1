// ASGD: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/asgd.hpp>

#include <algorithm>

namespace lazynn::optim {

using namespace detail;

void ASGDOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

Tensor ASGD::averaged(const Parameter& p) {
    ASGDState* state = state_of(p);
    return state ? state->ax : Tensor();
}

void ASGD::update(Parameter& p, const Tensor& grad, ASGDState& state, const ASGDOptions& o) {
    if (!state.eta.defined()) state.eta = scalar_tensor(o.lr(), kFloat32);
    if (!state.mu.defined()) state.mu = scalar_tensor(1.0, kFloat32);
    ensure(state.ax, p);
    const double eta = state.eta.item<double>(), mu = state.mu.item<double>();
    fused(p, grad, "ASGD", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* ax = data<T>(state.ax);
        const T decay = static_cast<T>(1 - o.lambd() * eta), rate = static_cast<T>(eta);
        const T wd = static_cast<T>(o.weight_decay()), m = static_cast<T>(mu);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            w[i] *= decay;
            w[i] -= rate * d;
            ax[i] = mu != 1 ? ax[i] + (w[i] - ax[i]) * m : w[i];
        }
    });
    // The next step's rate and averaging weight, rounded to float32 as PyTorch stores them.
    state.eta = scalar_tensor(o.lr() / std::pow(1 + o.lambd() * o.lr() * state.step, o.alpha()), kFloat32);
    state.mu = scalar_tensor(1.0 / std::max(1.0, state.step - o.t0()), kFloat32);
}

}  // namespace lazynn::optim
