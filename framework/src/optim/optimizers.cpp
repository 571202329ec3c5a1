// Fused optimizer updates: each step is one pass over a parameter's elements, updating the
// parameter and its state buffers together (formulas as in PyTorch 1.13's single-tensor paths).
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/optim/optimizers.hpp>

#include <cmath>
#include <type_traits>

namespace lazynn::optim {
namespace {

Tensor& ensure(Tensor& buffer, const Parameter& p, double fill = 0.0) {
    if (!buffer.defined()) buffer = full(p.shape(), fill, p.dtype());
    return buffer;
}

/// Runs body(T* param, const T* grad, n) on contiguous data of the parameter's dtype.
/// Elements per thread below which an update runs on the calling thread.
constexpr std::int64_t kUpdateGrain = std::int64_t{1} << 15;

template <class Body>
void fused(Parameter& p, const Tensor& grad, const char* name, Body body) {
    TensorImpl& impl = p.impl();
    if (!impl.is_contiguous()) throw RuntimeError(std::string(name) + ": parameters must be contiguous");
    if (grad.shape() != impl.shape) {
        throw ShapeError(std::string(name) + ": gradient of shape " + shape_to_list(grad.shape()) + " for a parameter of shape " +
                         shape_to_list(impl.shape));
    }
    const Tensor g = lazynn::detail::contiguous_data(grad.dtype() == impl.dtype ? grad : grad.to(impl.dtype));
    visit_floating(impl.dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* w = impl.data<T>();
        const T* gv = g.impl().template data<T>();
        // Elementwise over the parameter: large ones are split across threads.
        lazynn::detail::parallel_for(impl.numel(), kUpdateGrain, [&](std::int64_t begin, std::int64_t end) { body(w, gv, begin, end); });
    });
    impl.storage->bump_version();
}

template <class T>
T* data(Tensor& t) {
    return t.impl().data<T>();
}

}  // namespace

void SGD::update(Parameter& p, const Tensor& grad, SGDState& state, const SGDOptions& o) {
    const bool first = !state.momentum_buffer.defined();
    if (o.momentum_ != 0) ensure(state.momentum_buffer, p);
    fused(p, grad, "SGD", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* buf = o.momentum_ != 0 ? data<T>(state.momentum_buffer) : nullptr;
        const T lr = static_cast<T>(o.lr_), wd = static_cast<T>(o.weight_decay_), mom = static_cast<T>(o.momentum_);
        const T damp = static_cast<T>(1 - o.dampening_);
        if (!o.maximize_ && !o.nesterov_ && (!buf || !first)) {
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
            const bool decay = o.weight_decay_ != 0;
            if (buf) {
                if (decay) run(std::true_type{}, std::true_type{});
                else run(std::true_type{}, std::false_type{});
            } else {
                if (decay) run(std::false_type{}, std::true_type{});
                else run(std::false_type{}, std::false_type{});
            }
            return;
        }
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize_ ? -g[i] : g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
            if (buf) {
                buf[i] = first ? d : mom * buf[i] + damp * d;
                d = o.nesterov_ ? d + mom * buf[i] : buf[i];
            }
            w[i] -= lr * d;
        }
    });
}

AdamW::AdamW(std::vector<Parameter> params, AdamOptions options) : Adam(std::move(params), options, "AdamW") { decoupled_weight_decay_ = true; }
AdamW::AdamW(std::vector<ParamGroup> groups, AdamOptions options) : Adam(std::move(groups), options, "AdamW") {
    decoupled_weight_decay_ = true;
}

void Adam::update(Parameter& p, const Tensor& grad, AdamState& state, const AdamOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_avg_sq, p);
    if (o.amsgrad_) ensure(state.max_exp_avg_sq, p);
    const double bias1 = 1 - std::pow(o.beta1_, state.step);
    const double bias2 = 1 - std::pow(o.beta2_, state.step);
    const double step_size = o.lr_ / bias1;
    const double bias2_sqrt = std::sqrt(bias2);
    const bool decoupled = decoupled_weight_decay_;
    fused(p, grad, decoupled ? "AdamW" : "Adam", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* v = data<T>(state.exp_avg_sq);
        T* vmax = o.amsgrad_ ? data<T>(state.max_exp_avg_sq) : nullptr;
        const T b1 = static_cast<T>(o.beta1_), b2 = static_cast<T>(o.beta2_), eps = static_cast<T>(o.eps_);
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1_), c2 = static_cast<T>(1 - o.beta2_);
        const T wd = static_cast<T>(o.weight_decay_), decay = static_cast<T>(1 - o.lr_ * o.weight_decay_);
        const T ss = static_cast<T>(step_size), b2s = static_cast<T>(bias2_sqrt);
        if (!o.maximize_ && !vmax) {
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
            if (o.weight_decay_ == 0) run(std::false_type{}, std::false_type{});
            else if (decoupled) run(std::false_type{}, std::true_type{});
            else run(std::true_type{}, std::false_type{});
            return;
        }
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize_ ? -g[i] : g[i];
            if (o.weight_decay_ != 0) {
                if (decoupled) w[i] *= decay;
                else d += wd * w[i];
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

void Adamax::update(Parameter& p, const Tensor& grad, AdamaxState& state, const AdamaxOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_inf, p);
    const double clr = o.lr_ / (1 - std::pow(o.beta1_, state.step));
    fused(p, grad, "Adamax", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* u = data<T>(state.exp_inf);
        const T b1 = static_cast<T>(o.beta1_), b2 = static_cast<T>(o.beta2_), eps = static_cast<T>(o.eps_);
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1_);
        const T wd = static_cast<T>(o.weight_decay_), c = static_cast<T>(clr);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize_ ? -g[i] : g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
            m[i] = b1 * m[i] + c1 * d;
            u[i] = std::max(b2 * u[i], std::abs(d) + eps);
            w[i] -= c * m[i] / u[i];
        }
    });
}

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
            if (!t.defined() || is_lazy(t) || t.numel() != 1 || t.dtype() == kInt64) continue;   // the generic load says why
            const double v = t.item<double>();
            if (!std::isfinite(v)) throw ValueError("optimizer load_state_dict: '" + key + "' is not finite (" + std::to_string(v) + ")");
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

void NAdam::update(Parameter& p, const Tensor& grad, NAdamState& state, const NAdamOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_avg_sq, p);
    const double t = state.step;
    const double mu = o.beta1_ * (1 - 0.5 * std::pow(0.96, t * o.momentum_decay_));
    const double mu_next = o.beta1_ * (1 - 0.5 * std::pow(0.96, (t + 1) * o.momentum_decay_));
    state.mu_product *= mu;
    state.mu_product_tensor = scalar_tensor(state.mu_product, kFloat64);
    const double bias2 = 1 - std::pow(o.beta2_, t);
    const double c_grad = o.lr_ * (1 - mu) / (1 - state.mu_product);
    const double c_avg = o.lr_ * mu_next / (1 - state.mu_product * mu_next);
    fused(p, grad, "NAdam", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* v = data<T>(state.exp_avg_sq);
        const T b1 = static_cast<T>(o.beta1_), b2 = static_cast<T>(o.beta2_), eps = static_cast<T>(o.eps_);
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1_), c2 = static_cast<T>(1 - o.beta2_);
        const T wd = static_cast<T>(o.weight_decay_), cg = static_cast<T>(c_grad), ca = static_cast<T>(c_avg);
        const T b2s = static_cast<T>(std::sqrt(bias2));
        for (std::int64_t i = begin; i < end; ++i) {
            T d = g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
            m[i] = b1 * m[i] + c1 * d;
            v[i] = b2 * v[i] + c2 * d * d;
            const T denom = std::sqrt(v[i]) / b2s + eps;
            w[i] -= cg * d / denom + ca * m[i] / denom;
        }
    });
}

void RAdam::update(Parameter& p, const Tensor& grad, RAdamState& state, const RAdamOptions& o) {
    ensure(state.exp_avg, p);
    ensure(state.exp_avg_sq, p);
    const double t = state.step;
    const double bias1 = 1 - std::pow(o.beta1_, t);
    const double bias2 = 1 - std::pow(o.beta2_, t);
    const double rho_inf = 2 / (1 - o.beta2_) - 1;
    const double rho_t = rho_inf - 2 * t * std::pow(o.beta2_, t) / bias2;
    const bool rectify = rho_t > 5;
    const double rect = rectify ? std::sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) : 0.0;
    fused(p, grad, "RAdam", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* m = data<T>(state.exp_avg);
        T* v = data<T>(state.exp_avg_sq);
        const T b1 = static_cast<T>(o.beta1_), b2 = static_cast<T>(o.beta2_), eps = static_cast<T>(o.eps_);
        // 1 - beta in double, rounded once (as PyTorch passes it): 1 - float(0.9999) is off by 2e-4.
        const T c1 = static_cast<T>(1 - o.beta1_), c2 = static_cast<T>(1 - o.beta2_);
        const T wd = static_cast<T>(o.weight_decay_), lr = static_cast<T>(o.lr_);
        const T b1c = static_cast<T>(bias1), b2s = static_cast<T>(std::sqrt(bias2)), r = static_cast<T>(rect);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
            m[i] = b1 * m[i] + c1 * d;
            v[i] = b2 * v[i] + c2 * d * d;
            const T corrected = m[i] / b1c;
            if (rectify) w[i] -= lr * corrected * r * (b2s / (std::sqrt(v[i]) + eps));
            else w[i] -= lr * corrected;
        }
    });
}

void RMSprop::update(Parameter& p, const Tensor& grad, RMSpropState& state, const RMSpropOptions& o) {
    ensure(state.square_avg, p);
    if (o.momentum_ > 0) ensure(state.momentum_buffer, p);
    if (o.centered_) ensure(state.grad_avg, p);
    fused(p, grad, "RMSprop", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* sq = data<T>(state.square_avg);
        T* buf = o.momentum_ > 0 ? data<T>(state.momentum_buffer) : nullptr;
        T* ga = o.centered_ ? data<T>(state.grad_avg) : nullptr;
        const T alpha = static_cast<T>(o.alpha_), eps = static_cast<T>(o.eps_), wd = static_cast<T>(o.weight_decay_);
        const T c_alpha = static_cast<T>(1 - o.alpha_);   // in double, as PyTorch
        const T lr = static_cast<T>(o.lr_), mom = static_cast<T>(o.momentum_);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize_ ? -g[i] : g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
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

void Adagrad::update(Parameter& p, const Tensor& grad, AdagradState& state, const AdagradOptions& o) {
    ensure(state.sum, p, o.initial_accumulator_value_);
    const double clr = o.lr_ / (1 + (state.step - 1) * o.lr_decay_);
    fused(p, grad, "Adagrad", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* s = data<T>(state.sum);
        const T eps = static_cast<T>(o.eps_), wd = static_cast<T>(o.weight_decay_), c = static_cast<T>(clr);
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize_ ? -g[i] : g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
            s[i] += d * d;
            w[i] -= c * d / (std::sqrt(s[i]) + eps);
        }
    });
}

void Adadelta::update(Parameter& p, const Tensor& grad, AdadeltaState& state, const AdadeltaOptions& o) {
    ensure(state.square_avg, p);
    ensure(state.acc_delta, p);
    fused(p, grad, "Adadelta", [&](auto* w, const auto* g, std::int64_t begin, std::int64_t end) {
        using T = std::remove_pointer_t<decltype(w)>;
        T* sq = data<T>(state.square_avg);
        T* acc = data<T>(state.acc_delta);
        const T rho = static_cast<T>(o.rho_), eps = static_cast<T>(o.eps_), wd = static_cast<T>(o.weight_decay_), lr = static_cast<T>(o.lr_);
        const T c_rho = static_cast<T>(1 - o.rho_);   // in double, as PyTorch
        for (std::int64_t i = begin; i < end; ++i) {
            T d = o.maximize_ ? -g[i] : g[i];
            if (o.weight_decay_ != 0) d += wd * w[i];
            sq[i] = rho * sq[i] + c_rho * d * d;
            const T delta = std::sqrt(acc[i] + eps) / std::sqrt(sq[i] + eps) * d;
            acc[i] = rho * acc[i] + c_rho * delta * delta;
            w[i] -= lr * delta;
        }
    });
}

// ---- base helpers ----

void Optimizer::zero_grad(bool set_to_none) {
    for (std::size_t g = 0; g < num_param_groups(); ++g) {
        for (auto& p : group_params(g)) {
            Tensor grad = p.grad();
            if (!grad.defined()) continue;
            if (set_to_none) {
                p.set_grad(Tensor());
            } else {
                NoGradGuard no_grad;
                grad.detach_();
                grad.zero_();
            }
        }
    }
}

OptionField* Optimizer::find_option(std::vector<OptionField>& fields, const std::string& name) {
    for (auto& f : fields) {
        if (name == f.name) return &f;
    }
    return nullptr;
}

double Optimizer::initial_lr(std::size_t group) { return initial_lrs_.try_emplace(group, lr(group)).first->second; }

double Optimizer::lr(std::size_t group) {
    auto fields = group_options(group);
    return *find_option(fields, "lr")->number;
}

void Optimizer::set_lr(double lr, std::size_t group) {
    auto fields = group_options(group);
    *find_option(fields, "lr")->number = lr;
}

double clip_grad_norm_(const std::vector<Parameter>& parameters, double max_norm, double norm_type) {
    double total = 0;
    const bool inf_norm = std::isinf(norm_type);
    for (const auto& p : parameters) {
        if (!p.defined() || is_lazy(p) || !p.grad().defined()) continue;
        for (double v : p.grad().to_vector<double>()) {
            if (inf_norm) total = std::max(total, std::abs(v));
            else total += std::pow(std::abs(v), norm_type);
        }
    }
    if (!inf_norm) total = std::pow(total, 1.0 / norm_type);
    const double coef = max_norm / (total + 1e-6);
    if (coef < 1) {
        NoGradGuard no_grad;
        for (const auto& p : parameters) {
            if (!p.defined() || is_lazy(p) || !p.grad().defined()) continue;
            Tensor g = p.grad();
            g.mul_(coef);
        }
    }
    return total;
}

void clip_grad_value_(const std::vector<Parameter>& parameters, double clip_value) {
    NoGradGuard no_grad;
    for (const auto& p : parameters) {
        if (!p.defined() || is_lazy(p) || !p.grad().defined()) continue;
        Tensor g = p.grad();
        g.clamp_(-clip_value, clip_value);
    }
}

}  // namespace lazynn::optim
