// Adam: PyTorch's argument checks and the fused update (PyTorch 1.13's single-tensor formulas).
#include "fused_update.hpp"
#include "option_checks.hpp"

#include <lazynn/optim/adam.hpp>

namespace lazynn::optim {

using namespace detail;

void AdamOptions::validate(const char* optimizer) const {
    check_lr(lr_, optimizer);
    check_eps(eps_, optimizer);
    check_betas(beta1_, beta2_, optimizer);
    check_weight_decay(weight_decay_, optimizer);
}

AdamW::AdamW(std::vector<Parameter> params, AdamOptions options) : Adam(std::move(params), options, "AdamW") {
    decoupled_weight_decay_ = true;
}
AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, "AdamW") {
    decoupled_weight_decay_ = true;
}

void Adam::update(Parameter& p, const Tensor& grad, AdamState& state, const AdamOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_avg_sq, p);
    if (o.amsgrad()) ensure(state.max_exp_avg_sq, p);
    const double bias1 = 1 - std::pow(o.beta1(), state.step);
    const double bias2 = 1 - std::pow(o.beta2(), state.step);
    const double step_size = o.lr() / bias1;
    const double bias2_sqrt = std::sqrt(bias2);
    const bool decoupled = decoupled_weight_decay_;
    fused(p, grad, decoupled ? "AdamW" : "Adam", state,
          [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
              using T = std::remove_pointer_t<decltype(w)>;
              T* m = data<T>(state.exp_avg);
              T* v = data<T>(state.exp_avg_sq);
              T* vmax = o.amsgrad() ? data<T>(state.max_exp_avg_sq) : nullptr;
              const T b1 = static_cast<T>(o.beta1()), b2 = static_cast<T>(o.beta2()), eps = static_cast<T>(o.eps());
              // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
              const T c1 = static_cast<T>(1 - o.beta1()), c2 = static_cast<T>(1 - o.beta2());
              const T wd = static_cast<T>(o.weight_decay()), decay = static_cast<T>(1 - o.lr() * o.weight_decay());
              const T ss = static_cast<T>(step_size), b2s = static_cast<T>(bias2_sqrt);
              if (!o.maximize() && !vmax) {
                  // The common configurations (Adam, Adam with L2 decay, AdamW): the same arithmetic with
                  // the decay mode fixed at compile time and no per-element options, so it vectorises.
                  T* __restrict wr = w;
                  const T* __restrict gr = g;
                  T* __restrict mr = m;
                  T* __restrict vr = v;
                  const auto run = [&](auto l2_decay, auto decoupled_decay) {
                      for (std::int64_t i = begin; i < end; ++i) {
                          T d = gr[i];
                          T wi = wr[i];
                          if constexpr (decltype(l2_decay)::value) d += wd * wi;
                          if constexpr (decltype(decoupled_decay)::value) wi *= decay;
                          const T mi = b1 * mr[i] + c1 * d;
                          const T vi = b2 * vr[i] + c2 * d * d;
                          mr[i] = mi;
                          vr[i] = vi;
                          wr[i] = wi - ss * mi / (std::sqrt(vi) / b2s + eps);
                      }
                  };
                  if (o.weight_decay() == 0)
                      run(std::false_type{}, std::false_type{});
                  else if (decoupled)
                      run(std::false_type{}, std::true_type{});
                  else
                      run(std::true_type{}, std::false_type{});
                  return;
              }
              for (std::int64_t i = begin; i < end; ++i) {
                  T d = o.maximize() ? -g[i] : g[i];
                  if (o.weight_decay() != 0) {
                      if (decoupled)
                          w[i] *= decay;
                      else
                          d += wd * w[i];
                  }
                  m[i] = b1 * m[i] + c1 * d;
                  v[i] = b2 * v[i] + c2 * d * d;
                  T second = v[i];
                  if (vmax) {
                      vmax[i] = std::max(vmax[i], v[i]);
                      second = vmax[i];
                  }
                  w[i] -= ss * m[i] / (std::sqrt(second) / b2s + eps);
              }
          });
}

}  // namespace lazynn::optim
