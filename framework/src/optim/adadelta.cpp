// Adadelta: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/adadelta.hpp>

namespace lazynn::optim {

using namespace detail;

void AdadeltaOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check(0 <= rho_ && rho_ <= 1, "Invalid rho value", rho_, optimizer, "0 <= rho <= 1");
    check_eps(eps_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

void Adadelta::update(Parameter& p, const Tensor& grad, AdadeltaState& state, const AdadeltaOptions& o) {
    ensure(state.square_avg, p);
    ensure(state.acc_delta, p);
    fused(p, grad, "Adadelta", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* sq = data<T>(state.square_avg);
        T* acc = data<T>(state.acc_delta);
        const T rho = static_cast<T>(o.rho()), eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay()),
                lr = static_cast<T>(o.lr());
        const T c_rho = static_cast<T>(1 - o.rho());  // in double, as PyTorch
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            sq[i] = rho * sq[i] + c_rho * d * d;
            const T delta = std::sqrt(acc[i] + eps) / std::sqrt(sq[i] + eps) * d;
            acc[i] = rho * acc[i] + c_rho * delta * delta;
            w[i] -= lr * delta;
        }
    });
}

}  // namespace lazynn::optim
