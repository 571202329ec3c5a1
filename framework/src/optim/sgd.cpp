// SGD: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/sgd.hpp>

namespace lazynn::optim {

using namespace detail;

void SGDOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check(0 <= momentum_, "Invalid momentum value", momentum_, optimizer, "momentum >= 0");
    check_weight_decay(weight_decay_, optimizer);
    if (nesterov_ && (momentum_ <= 0 || dampening_ != 0)) {
        throw ValueError("Nesterov momentum requires a momentum and zero dampening (" + std::string(optimizer) +
                         " got momentum " + number(momentum_) + ", dampening " + number(dampening_) + ")");
    }
}

void SGD::update(Parameter& p, const Tensor& grad, SGDState& state, const SGDOptions& o) {
    const bool first = !state.momentum_buffer.defined();
    if (o.momentum() != 0) ensure(state.momentum_buffer, p);
    fused(p, grad, "SGD", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* buf = o.momentum() != 0 ? data<T>(state.momentum_buffer) : nullptr;
        const T lr = static_cast<T>(o.lr()), wd = static_cast<T>(o.weight_decay()), mom = static_cast<T>(o.momentum());
        const T damp = static_cast<T>(1 - o.dampening());
        if (!o.maximize() && !o.nesterov() && (!buf || !first)) {
            // Plain SGD and plain momentum, each with or without L2 decay: the same arithmetic with
            // the options fixed at compile time, so it vectorises.
            T* __restrict wr = w;
            const T* __restrict gr = g;
            T* __restrict br = buf;
            const auto run = [&](auto with_momentum, auto with_decay) {
                for (std::int64_t i = begin; i < end; ++i) {
                    T d = gr[i];
                    if constexpr (decltype(with_decay)::value) d += wd * wr[i];
                    if constexpr (decltype(with_momentum)::value) {
                        d = mom * br[i] + damp * d;
                        br[i] = d;
                    }
                    wr[i] -= lr * d;
                }
            };
            const bool decay = o.weight_decay() != 0;
            if (buf) {
                if (decay)
                    run(std::true_type{}, std::true_type{});
                else
                    run(std::true_type{}, std::false_type{});
            } else {
                if (decay)
                    run(std::false_type{}, std::true_type{});
                else
                    run(std::false_type{}, std::false_type{});
            }
            return;
        }
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            if (buf) {
                buf[i] = first ? d : mom * buf[i] + damp * d;
                d = o.nesterov() ? d + mom * buf[i] : buf[i];
            }
            w[i] -= lr * d;
        }
    });
}

}  // namespace lazynn::optim
