// Rprop: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/rprop.hpp>

#include <algorithm>

namespace lazynn::optim {

using namespace detail;

void RpropOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    if (!(0.0 < etaminus_ && etaminus_ < 1.0 && 1.0 < etaplus_)) {
        throw ValueError("Invalid eta values: " + number(etaminus_) + ", " + number(etaplus_) + " (" + optimizer +
                         " expects 0 < etaminus < 1 < etaplus)");
    }
    if (!(step_size_min_ <= step_size_max_)) {
        throw ValueError("Invalid step sizes: " + number(step_size_min_) + ", " + number(step_size_max_) + " (" +
                         optimizer + " expects step_size_min <= step_size_max)");
    }
}

void Rprop::update(Parameter& p, const Tensor& grad, RpropState& state, const RpropOptions& o) {
    ensure(state.prev, p);
    ensure(state.step_size, p, o.lr());
    fused(p, grad, "Rprop", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* prev = data<T>(state.prev);
        T* size = data<T>(state.step_size);
        const T plus = static_cast<T>(o.etaplus()), minus = static_cast<T>(o.etaminus());
        const T lo = static_cast<T>(o.step_size_min()), hi = static_cast<T>(o.step_size_max());
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            const T agreement = d * prev[i];
            // Same sign: grow the step; a flip: shrink it and skip this element's update (PyTorch
            // zeroes the gradient there, so the next step sees no sign to compare); zero: keep it.
            const T factor = agreement > 0 ? plus : (agreement < 0 ? minus : T(1));
            size[i] = std::clamp(size[i] * factor, lo, hi);
            if (agreement < 0) d = 0;
            w[i] -= (d > 0 ? size[i] : (d < 0 ? -size[i] : T(0)));
            prev[i] = d;
        }
    });
}

}  // namespace lazynn::optim
