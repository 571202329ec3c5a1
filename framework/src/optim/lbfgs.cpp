// LBFGS: the two-loop recursion, the fixed-step and strong-Wolfe iterations, and its state_dict.
#include <lazynn/optim/lbfgs.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>

namespace lazynn::optim {
namespace {

/// The minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1 and g2, clamped to
/// `bounds` (the interval between x1 and x2 by default); the interval's middle when the cubic has
/// no minimum there.
double cubic_interpolate(double x1, double f1, double g1, double x2, double f2, double g2,
                         std::optional<std::pair<double, double>> bounds = std::nullopt) {
    const auto [lo, hi] = bounds.value_or(x1 <= x2 ? std::pair{x1, x2} : std::pair{x2, x1});
    const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    const double d2_square = d1 * d1 - g1 * g2;
    if (d2_square >= 0) {
        const double d2 = std::sqrt(d2_square);
        const double min_pos = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                                        : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
        return std::min(std::max(min_pos, lo), hi);
    }
    return (lo + hi) / 2.0;
}

double dot_value(const Tensor& a, const Tensor& b) { return a.dot(b).item<double>(); }
double max_abs(const Tensor& t) { return t.abs().max().item<double>(); }

/// One point of the line search: step t, loss f, flat gradient g and directional derivative gtd.
struct Point {
    double t = 0, f = 0;
    Tensor g;
    double gtd = 0;
};

struct LineSearchResult {
    double loss;
    Tensor flat_grad;
    double t;
    std::int64_t evaluations;
};

/// A step t along d from x satisfying the strong Wolfe conditions (sufficient decrease c1,
/// curvature c2): bracketing, then zooming in by cubic interpolation (PyTorch's _strong_wolfe,
/// after minFunc). `evaluate(t)` gives the loss and flat gradient at x + t d.
LineSearchResult strong_wolfe(const std::function<std::pair<double, Tensor>(double)>& evaluate, double t,
                              const Tensor& d, double f, const Tensor& g, double gtd, double tolerance_change,
                              double c1 = 1e-4, double c2 = 0.9, std::int64_t max_ls = 25) {
    const double d_norm = max_abs(d);
    auto [f_new, g_new] = evaluate(t);
    std::int64_t evaluations = 1;
    double gtd_new = dot_value(g_new, d);
    Point prev{0, f, g.clone(), gtd};
    bool done = false;
    std::int64_t ls_iter = 0;
    std::vector<Point> bracket;  // one point (done) or the two ends of an interval

    // Bracketing: grow t until an interval is known to contain an acceptable step.
    while (ls_iter < max_ls) {
        if (f_new > f + c1 * t * gtd || (ls_iter > 1 && f_new >= prev.f)) {  // overshot: the minimum is behind
            bracket = {prev, {t, f_new, g_new.clone(), gtd_new}};
            break;
        }
        if (std::abs(gtd_new) <= -c2 * gtd) {  // both conditions hold
            bracket = {{t, f_new, g_new, gtd_new}};
            done = true;
            break;
        }
        if (gtd_new >= 0) {  // the slope turned: the minimum is in between
            bracket = {prev, {t, f_new, g_new.clone(), gtd_new}};
            break;
        }
        const double min_step = t + 0.01 * (t - prev.t);
        const double max_step = t * 10;
        const double previous_t = t;
        t = cubic_interpolate(prev.t, prev.f, prev.gtd, t, f_new, gtd_new, std::pair{min_step, max_step});
        prev = {previous_t, f_new, g_new.clone(), gtd_new};
        std::tie(f_new, g_new) = evaluate(t);
        ++evaluations;
        gtd_new = dot_value(g_new, d);
        ++ls_iter;
    }
    if (ls_iter == max_ls) bracket = {{0, f, g, 0}, {t, f_new, g_new, 0}};

    // Zoom: shrink the interval until a point satisfies both conditions.
    bool insufficient_progress = false;
    std::size_t low = bracket.front().f <= bracket.back().f ? 0 : 1;
    std::size_t high = 1 - low;
    while (!done && ls_iter < max_ls) {
        if (std::abs(bracket[1].t - bracket[0].t) * d_norm < tolerance_change) break;
        t = cubic_interpolate(bracket[0].t, bracket[0].f, bracket[0].gtd, bracket[1].t, bracket[1].f, bracket[1].gtd);
        const double b_max = std::max(bracket[0].t, bracket[1].t);
        const double b_min = std::min(bracket[0].t, bracket[1].t);
        const double eps = 0.1 * (b_max - b_min);
        // Too close to an end: move away from it, unless the last step already made progress.
        if (std::min(b_max - t, t - b_min) < eps) {
            if (insufficient_progress || t >= b_max || t <= b_min) {
                t = std::abs(t - b_max) < std::abs(t - b_min) ? b_max - eps : b_min + eps;
                insufficient_progress = false;
            } else {
                insufficient_progress = true;
            }
        } else {
            insufficient_progress = false;
        }
        std::tie(f_new, g_new) = evaluate(t);
        ++evaluations;
        gtd_new = dot_value(g_new, d);
        ++ls_iter;
        if (f_new > f + c1 * t * gtd || f_new >= bracket[low].f) {
            bracket[high] = {t, f_new, g_new.clone(), gtd_new};
            low = bracket[0].f <= bracket[1].f ? 0 : 1;
            high = 1 - low;
        } else {
            if (std::abs(gtd_new) <= -c2 * gtd) {
                done = true;
            } else if (gtd_new * (bracket[high].t - bracket[low].t) >= 0) {
                bracket[high] = bracket[low];
            }
            bracket[low] = {t, f_new, g_new.clone(), gtd_new};
        }
    }
    const Point& best = bracket[low];
    return {best.f, best.g, best.t, evaluations};
}

void check_finite(double v, const std::string& what) {
    if (!std::isfinite(v)) throw ValueError(what);
}

}  // namespace

void LBFGSOptions::validate(const char* optimizer) const {
    const std::string who = optimizer;
    check_finite(lr_, who + ": lr must be finite, got " + std::to_string(lr_));
    if (max_iter_ < 1) throw ValueError(who + ": max_iter must be at least 1, got " + std::to_string(max_iter_));
    if (effective_max_eval() < 1) {
        throw ValueError(who + ": max_eval must be at least 1, got " + std::to_string(effective_max_eval()) +
                         (max_eval_ ? "" : " (max_iter * 5 / 4)"));
    }
    if (history_size_ < 1)
        throw ValueError(who + ": history_size must be at least 1, got " + std::to_string(history_size_));
    if (!(tolerance_grad_ >= 0) || !(tolerance_change_ >= 0)) {
        throw ValueError(who + ": tolerance_grad and tolerance_change must be non-negative, got " +
                         std::to_string(tolerance_grad_) + " and " + std::to_string(tolerance_change_));
    }
}

LBFGS::LBFGS(std::vector<Parameter> params, LBFGSOptions options)
    : params_(std::move(params)), options_(std::move(options)) {
    if (params_.empty()) throw ValueError(empty_list_message(LBFGSOptions::kName));
    options_.validate(LBFGSOptions::kName);
    for (std::size_t i = 0; i < params_.size(); ++i) {
        if (!params_[i].defined()) throw ValueError("LBFGS: parameter " + std::to_string(i) + " is undefined");
        for (std::size_t j = 0; j < i; ++j) {
            if (params_[j].is_same(params_[i])) throw ValueError("some parameters appear more than once in LBFGS");
        }
    }
}

void LBFGS::step() {
    throw RuntimeError(
        "LBFGS.step() needs a closure that re-evaluates the model and returns the loss: "
        "opt.step([&] { opt.zero_grad(); Tensor loss = ...; loss.backward(); return loss; })");
}

std::vector<Parameter>& LBFGS::group_params(std::size_t group) {
    if (group != 0) throw IndexError("LBFGS has one parameter group, asked for group " + std::to_string(group));
    return params_;
}

std::vector<OptionField> LBFGS::group_options(std::size_t group) {
    if (group != 0) throw IndexError("LBFGS has one parameter group, asked for group " + std::to_string(group));
    return options_.fields();
}

std::int64_t LBFGS::numel() const {
    std::int64_t total = 0;
    for (const auto& p : params_) total += p.numel();
    return total;
}

Tensor LBFGS::gather_flat_grad() const {
    std::vector<Tensor> views;
    views.reserve(params_.size());
    const Dtype dtype = params_.front().dtype();
    for (const auto& p : params_) {
        const Tensor g = p.grad();
        views.push_back(g.defined() ? g.reshape({-1}).to(dtype) : zeros({p.numel()}, dtype));
    }
    return cat(views, 0);
}

void LBFGS::add_grad(double step_size, const Tensor& update) {
    std::int64_t offset = 0;
    for (auto& p : params_) {
        const std::int64_t n = p.numel();
        p.add_(update.narrow(0, offset, n).reshape(p.shape()).to(p.dtype()), step_size);
        offset += n;
    }
}

std::vector<Tensor> LBFGS::clone_params() const {
    std::vector<Tensor> copies;
    copies.reserve(params_.size());
    for (const auto& p : params_) copies.push_back(p.detach().clone());
    return copies;
}

void LBFGS::set_params(const std::vector<Tensor>& values) {
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i].copy_(values[i]);
}

std::pair<double, Tensor> LBFGS::directional_evaluate(const std::function<double()>& closure,
                                                      const std::vector<Tensor>& x, double t, const Tensor& d) {
    add_grad(t, d);
    const double loss = closure();
    Tensor flat_grad = gather_flat_grad();
    set_params(x);
    return {loss, flat_grad};
}

Tensor LBFGS::step(const std::function<Tensor()>& closure) {
    NoGradGuard no_grad;  // updates without history; the closure records its own graph
    const auto evaluate = [&closure]() -> Tensor {
        EnableGradGuard grad;
        Tensor loss = closure();
        if (!loss.defined() || loss.numel() != 1) {
            throw ValueError("LBFGS: the closure must return the loss, a tensor of one element; got " +
                             (loss.defined() ? "shape " + shape_to_list(loss.shape()) : std::string("no tensor")));
        }
        return loss;
    };
    const std::function<double()> loss_of = [&] { return evaluate().item<double>(); };

    const double lr = options_.lr();
    const std::int64_t max_iter = options_.max_iter();
    const std::int64_t max_eval = options_.effective_max_eval();
    const double tolerance_grad = options_.tolerance_grad();
    const double tolerance_change = options_.tolerance_change();
    const auto history_size = static_cast<std::size_t>(options_.history_size());
    LBFGSState& s = state_;

    Tensor orig_loss = evaluate();
    double loss = orig_loss.item<double>();
    std::int64_t current_evals = 1;
    s.func_evals += 1;
    Tensor flat_grad = gather_flat_grad();
    bool opt_cond = max_abs(flat_grad) <= tolerance_grad;
    if (opt_cond) return orig_loss;  // already optimal

    std::int64_t n_iter = 0;
    while (n_iter < max_iter) {
        ++n_iter;
        s.n_iter += 1;

        // The search direction: steepest descent first, then the two-loop recursion over the
        // history of (y, s) pairs.
        if (s.n_iter == 1) {
            s.d = flat_grad.neg();
            s.old_dirs.clear();
            s.old_stps.clear();
            s.ro.clear();
            s.H_diag = 1;
        } else {
            const Tensor y = flat_grad - s.prev_flat_grad;
            const Tensor step = s.d * s.t;
            const double ys = dot_value(y, step);
            if (ys > 1e-10) {  // keep only pairs with positive curvature
                if (s.old_dirs.size() == history_size) {
                    s.old_dirs.erase(s.old_dirs.begin());
                    s.old_stps.erase(s.old_stps.begin());
                    s.ro.erase(s.ro.begin());
                }
                s.old_dirs.push_back(y);
                s.old_stps.push_back(step);
                s.ro.push_back(1.0 / ys);
                s.H_diag = ys / dot_value(y, y);
            }
            const std::size_t num_old = s.old_dirs.size();
            std::vector<double> al(num_old);
            Tensor q = flat_grad.neg();
            for (std::size_t i = num_old; i-- > 0;) {
                al[i] = dot_value(s.old_stps[i], q) * s.ro[i];
                q.add_(s.old_dirs[i], -al[i]);
            }
            Tensor r = q * s.H_diag;
            for (std::size_t i = 0; i < num_old; ++i) {
                const double be_i = dot_value(s.old_dirs[i], r) * s.ro[i];
                r.add_(s.old_stps[i], al[i] - be_i);
            }
            s.d = r;
        }
        s.prev_flat_grad = flat_grad.clone();
        s.prev_loss = loss;

        // The first step is scaled to the gradient; later ones start from lr.
        s.t = s.n_iter == 1 ? std::min(1.0, 1.0 / flat_grad.abs().sum().item<double>()) * lr : lr;
        const double gtd = dot_value(flat_grad, s.d);
        if (gtd > -tolerance_change) break;  // not a descent direction

        std::int64_t ls_func_evals = 0;
        if (options_.line_search_fn() == LineSearch::StrongWolfe) {
            const std::vector<Tensor> x_init = clone_params();
            const Tensor d = s.d;
            LineSearchResult found = strong_wolfe([&](double t) { return directional_evaluate(loss_of, x_init, t, d); },
                                                  s.t, d, loss, flat_grad, gtd, tolerance_change);
            loss = found.loss;
            flat_grad = found.flat_grad;
            s.t = found.t;
            ls_func_evals = found.evaluations;
            add_grad(s.t, s.d);
            opt_cond = max_abs(flat_grad) <= tolerance_grad;
        } else {
            add_grad(s.t, s.d);
            if (n_iter != max_iter) {
                loss = loss_of();
                flat_grad = gather_flat_grad();
                opt_cond = max_abs(flat_grad) <= tolerance_grad;
                ls_func_evals = 1;
            }
        }
        current_evals += ls_func_evals;
        s.func_evals += static_cast<double>(ls_func_evals);

        if (n_iter == max_iter || current_evals >= max_eval || opt_cond) break;
        if (max_abs(s.d * s.t) <= tolerance_change) break;  // the step is too small
        if (std::abs(loss - s.prev_loss) < tolerance_change) break;
    }
    return orig_loss;
}

// ---- state_dict ----

StateDict LBFGS::state_dict() {
    StateDict out;
    for (const auto& f : options_.fields())
        out.insert(std::string("param_groups.0.") + f.name, scalar_tensor(*f.number, kFloat64));
    // The integer and choice options too, as PyTorch's param_groups hold every option.
    out.insert("param_groups.0.max_iter", scalar_tensor(static_cast<double>(options_.max_iter()), kFloat64));
    out.insert("param_groups.0.max_eval", scalar_tensor(static_cast<double>(options_.effective_max_eval()), kFloat64));
    out.insert("param_groups.0.history_size", scalar_tensor(static_cast<double>(options_.history_size()), kFloat64));
    out.insert("param_groups.0.line_search_fn",
               scalar_tensor(options_.line_search_fn() == LineSearch::StrongWolfe ? 1.0 : 0.0, kFloat64));
    std::vector<std::int64_t> ids(params_.size());
    for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i);
    out.insert("param_groups.0.params", tensor(ids, {static_cast<std::int64_t>(ids.size())}));
    if (state_.func_evals == 0) return out;  // no step yet: no state, as in PyTorch
    const LBFGSState& s = state_;
    out.insert("state.0.func_evals", scalar_tensor(s.func_evals, kFloat64));
    out.insert("state.0.n_iter", scalar_tensor(s.n_iter, kFloat64));
    if (s.d.defined()) {
        out.insert("state.0.d", s.d.detach());
        out.insert("state.0.t", scalar_tensor(s.t, kFloat64));
        for (std::size_t i = 0; i < s.old_dirs.size(); ++i) {
            out.insert("state.0.old_dirs." + std::to_string(i), s.old_dirs[i].detach());
            out.insert("state.0.old_stps." + std::to_string(i), s.old_stps[i].detach());
        }
        out.insert("state.0.ro", tensor(s.ro, {static_cast<std::int64_t>(s.ro.size())}, kFloat64));
        out.insert("state.0.H_diag", scalar_tensor(s.H_diag, kFloat64));
        out.insert("state.0.prev_flat_grad", s.prev_flat_grad.detach());
        out.insert("state.0.prev_loss", scalar_tensor(s.prev_loss, kFloat64));
    }
    return out;
}

void LBFGS::load_state_dict(const StateDict& sd) {
    const auto number = [&](const std::string& key) {
        if (!sd.contains(key)) throw ValueError("LBFGS load_state_dict: '" + key + "' is missing");
        const Tensor& t = sd.at(key);
        if (!t.defined() || is_lazy(t) || t.numel() != 1)
            throw ValueError("LBFGS load_state_dict: '" + key + "' must hold one number");
        const double v = t.item<double>();
        check_finite(v, "LBFGS load_state_dict: '" + key + "' is not finite (" + std::to_string(v) + ")");
        return v;
    };
    const Dtype dtype = params_.front().dtype();
    const auto flat = [&](const std::string& key) {
        if (!sd.contains(key)) throw ValueError("LBFGS load_state_dict: '" + key + "' is missing");
        const Tensor& t = sd.at(key);
        if (!t.defined() || is_lazy(t) || t.shape() != Shape{numel()} || !is_floating(t.dtype())) {
            throw ValueError("LBFGS load_state_dict: '" + key +
                             "' must be a floating-point vector of the parameters' " + "total size [" +
                             std::to_string(numel()) + "], got " +
                             (t.defined() && !is_lazy(t) ? dtype_name(t.dtype()) + " " + shape_to_list(t.shape())
                                                         : std::string("no tensor")));
        }
        NoGradGuard no_grad;
        return t.to(dtype).clone();
    };
    if (!sd.contains("param_groups.0.params") || sd.contains("param_groups.1.params"))
        throw ValueError("LBFGS load_state_dict: expected exactly one parameter group ('param_groups.0.params')");
    if (sd.at("param_groups.0.params").numel() != static_cast<std::int64_t>(params_.size())) {
        throw ValueError(
            "loaded state dict contains a parameter group that doesn't match the size of optimizer's "
            "group 0; build the optimizer from the same model's parameters(), in the same order");
    }
    LBFGSOptions options = options_;
    for (auto& f : options.fields()) {
        const std::string key = std::string("param_groups.0.") + f.name;
        if (sd.contains(key)) *f.number = number(key);
    }
    const auto count = [&](const std::string& key) {
        const double v = number(key);
        if (v != std::floor(v) || std::abs(v) > 1e15)
            throw ValueError("LBFGS load_state_dict: '" + key + "' must be a whole number, got " + std::to_string(v));
        return static_cast<std::int64_t>(v);
    };
    if (sd.contains("param_groups.0.max_iter")) options.max_iter(count("param_groups.0.max_iter"));
    if (sd.contains("param_groups.0.max_eval")) options.max_eval(count("param_groups.0.max_eval"));
    if (sd.contains("param_groups.0.history_size")) options.history_size(count("param_groups.0.history_size"));
    if (sd.contains("param_groups.0.line_search_fn")) {
        options.line_search_fn(number("param_groups.0.line_search_fn") != 0.0 ? LineSearch::StrongWolfe
                                                                              : LineSearch::None);
    }
    options.validate(LBFGSOptions::kName);
    LBFGSState s;
    if (sd.contains("state.0.func_evals")) {
        if (is_lazy(params_.front()))
            throw ValueError("LBFGS load_state_dict: the parameters are still uninitialized; run a forward first");
        s.func_evals = number("state.0.func_evals");
        s.n_iter = number("state.0.n_iter");
        if (sd.contains("state.0.d")) {
            s.d = flat("state.0.d");
            s.t = number("state.0.t");
            for (std::size_t i = 0; sd.contains("state.0.old_dirs." + std::to_string(i)); ++i) {
                s.old_dirs.push_back(flat("state.0.old_dirs." + std::to_string(i)));
                s.old_stps.push_back(flat("state.0.old_stps." + std::to_string(i)));
            }
            if (!sd.contains("state.0.ro")) throw ValueError("LBFGS load_state_dict: 'state.0.ro' is missing");
            const Tensor& ro = sd.at("state.0.ro");
            if (!ro.defined() || is_lazy(ro) || ro.dim() != 1 ||
                ro.numel() != static_cast<std::int64_t>(s.old_dirs.size())) {
                throw ValueError("LBFGS load_state_dict: 'state.0.ro' must hold one number per history pair (" +
                                 std::to_string(s.old_dirs.size()) + ")");
            }
            s.ro = ro.to(kFloat64).to_vector<double>();
            for (const double v : s.ro) check_finite(v, "LBFGS load_state_dict: 'state.0.ro' is not finite");
            if (s.old_dirs.size() > static_cast<std::size_t>(options.history_size())) {
                throw ValueError("LBFGS load_state_dict: the history holds " + std::to_string(s.old_dirs.size()) +
                                 " pairs, more than history_size " + std::to_string(options.history_size()));
            }
            s.H_diag = number("state.0.H_diag");
            s.prev_flat_grad = flat("state.0.prev_flat_grad");
            s.prev_loss = number("state.0.prev_loss");
        }
    }
    options_ = options;
    state_ = std::move(s);
}

}  // namespace lazynn::optim
