// Adagrad: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/adagrad.hpp>

namespace lazynn::optim {

using namespace detail;

void AdagradOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check(0 <= lr_decay_, "Invalid lr_decay value", lr_decay_, optimizer, "lr_decay >= 0");
    check_weight_decay(weight_decay_, optimizer);
    check(0 <= initial_accumulator_value_, "Invalid initial_accumulator_value value", initial_accumulator_value_,
          optimizer, "initial_accumulator_value >= 0");
    check_eps(eps_, optimizer);
}

void Adagrad::update(Parameter& p, const Tensor& grad, AdagradState& state, const AdagradOptions& o) {
    ensure(state.sum, p, o.initial_accumulator_value());
    const double clr = o.lr() / (1 + (state.step - 1) * o.lr_decay());
    fused(p, grad, "Adagrad", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* s = data<T>(state.sum);
        const T eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay()), c = static_cast<T>(clr);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            s[i] += d * d;
            w[i] -= c * d / (std::sqrt(s[i]) + eps);
        }
    });
}

}  // namespace lazynn::optim
