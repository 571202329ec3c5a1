// RMSprop: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/rmsprop.hpp>

namespace lazynn::optim {

using namespace detail;

void RMSpropOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check(0 <= momentum_, "Invalid momentum value", momentum_, optimizer, "momentum >= 0");
    check_weight_decay(weight_decay_, optimizer);
    check(0 <= alpha_, "Invalid alpha value", alpha_, optimizer, "alpha >= 0");
}

void RMSprop::update(Parameter& p, const Tensor& grad, RMSpropState& state, const RMSpropOptions& o) {
    ensure(state.square_avg, p);
    if (o.momentum() > 0) ensure(state.momentum_buffer, p);
    if (o.centered()) ensure(state.grad_avg, p);
    fused(p, grad, "RMSprop", state, [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* sq = data<T>(state.square_avg);
        T* buf = o.momentum() > 0 ? data<T>(state.momentum_buffer) : nullptr;
        T* ga = o.centered() ? data<T>(state.grad_avg) : nullptr;
        const T alpha = static_cast<T>(o.alpha()), eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay());
        const T c_alpha = static_cast<T>(1 - o.alpha());  // in double, as PyTorch
        const T lr = static_cast<T>(o.lr()), mom = static_cast<T>(o.momentum());
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize() ? -g[i] : g[i];
            if (o.weight_decay() != 0) d += wd * w[i];
            sq[i] = alpha * sq[i] + c_alpha * d * d;
            T avg;
            if (ga) {
                ga[i] = alpha * ga[i] + c_alpha * d;
                avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
            } else {
                avg = std::sqrt(sq[i]) + eps;
            }
            if (buf) {
                buf[i] = mom * buf[i] + d / avg;
                w[i] -= lr * buf[i];
            } else {
                w[i] -= lr * d / avg;
            }
        }
    });
}

}  // namespace lazynn::optim
