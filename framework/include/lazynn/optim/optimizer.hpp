#pragma once
// Optimizer base classes.
//
// Contract:
//   - Parameters are held as handles, so an optimizer built on a lazy model before its first
//     forward updates the real tensors once they are materialised (docs/design.md, decision 6).
//   - Per-parameter state is keyed by parameter identity and created on the first step() that
//     sees a gradient for it; parameters without a gradient (or still uninitialised) are skipped.
//   - Each update is one fused pass over the parameter's data (no chains of tensor ops).
//   - state_dict() holds only tensors: "param_groups.{g}.{option}" (0-dim float64),
//     "param_groups.{g}.params" (int64 indices), "state.{i}.{field}". Indices count parameters
//     across groups in order, as PyTorch numbers them.
// Copy/move: optimizers are neither copyable nor movable (they are referred to by schedulers).

#include <lazynn/autograd.hpp>
#include <lazynn/module.hpp>
#include <lazynn/parameter.hpp>

#include <cmath>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace lazynn::optim {

/// One named option of a parameter group, for state_dict and schedulers.
struct OptionField {
    const char* name;
    double* number = nullptr;
    bool* flag = nullptr;
};

class Optimizer {
public:
    Optimizer() = default;
    Optimizer(const Optimizer&) = delete;
    Optimizer& operator=(const Optimizer&) = delete;
    /// Movable (a function can return one, or two in a pair): the parameters, groups and state go
    /// along. A scheduler holds its optimizer by reference, so move before attaching one.
    Optimizer(Optimizer&&) = default;
    Optimizer& operator=(Optimizer&&) = default;
    virtual ~Optimizer() = default;

    /// One update of every parameter that has a gradient.
    virtual void step() = 0;
    /// Clears the gradients of every parameter (to undefined by default, like PyTorch 2.x).
    void zero_grad(bool set_to_none = true);

    virtual std::size_t num_param_groups() const = 0;
    virtual std::vector<Parameter>& group_params(std::size_t group) = 0;
    /// The options of a group, by name ("lr", "momentum", "beta1", ...).
    virtual std::vector<OptionField> group_options(std::size_t group) = 0;
    double lr(std::size_t group = 0);
    void set_lr(double lr, std::size_t group);
    /// Looks up a group option by name; null when this optimizer has no such option.
    OptionField* find_option(std::vector<OptionField>& fields, const std::string& name);

    /// The lr a group had when the first scheduler attached to it (PyTorch's "initial_lr"):
    /// recorded on first request, so chained schedulers share one base.
    double initial_lr(std::size_t group);
    /// Replaces a group's initial lr (OneCycleLR does, as in PyTorch).
    void set_initial_lr(std::size_t group, double lr) { initial_lrs_[group] = lr; }

    virtual StateDict state_dict() = 0;
    virtual void load_state_dict(const StateDict& state) = 0;

private:
    std::unordered_map<std::size_t, double> initial_lrs_;
};

/// "optimizer got an empty parameter list" (PyTorch's words) with a hint at the usual cause.
std::string empty_list_message(const char* optimizer);

/// Shared implementation: parameter groups of `Options` and per-parameter `State`.
/// Options must provide `lr()` (LAZYNN_ARG), `std::vector<OptionField> fields()`, `kName` and
/// `validate(const char* optimizer)`; State must provide
/// `std::vector<std::pair<const char*, Tensor*>> tensors()` and `double step`, and may list in
/// `static constexpr std::array<std::string_view, N> kScalarTensors` the tensors that hold one
/// number rather than the parameter's shape.
template <class Options, class State>
class OptimizerBase : public Optimizer {
public:
    struct ParamGroup {
        std::vector<Parameter> params;
        Options options;
    };

    /// `name` only labels error messages (AdamW passes its own; the rest use Options::kName).
    /// Throws ValueError for an empty list and for options PyTorch rejects. `defaults` may be left
    /// out: every optimizer's options have PyTorch's default learning rate.
    OptimizerBase(std::vector<Parameter> params, Options defaults = Options(), const char* name = Options::kName)
        : name_(name), defaults_(defaults) {
        if (params.empty()) throw ValueError(empty_list_message(name_));
        add_param_group({std::move(params), defaults});
    }
    OptimizerBase(std::vector<ParamGroup> groups, Options defaults = Options(), const char* name = Options::kName)
        : name_(name), defaults_(defaults) {
        if (groups.empty()) throw ValueError(empty_list_message(name_));
        defaults_.validate(name_);
        for (auto& g : groups) add_param_group(std::move(g));
    }

    /// Adds a group after checking its options as the constructor does (PyTorch checks only the
    /// constructor's defaults; a group's own options deserve the same checks).
    void add_param_group(ParamGroup group) {
        group.options.validate(name_);
        for (const auto& p : group.params) {
            if (!p.defined()) throw ValueError("optimizer: a parameter group contains an undefined parameter");
            for (const auto& existing : groups_) {
                for (const auto& q : existing.params) {
                    if (q.is_same(p)) throw ValueError("some parameters appear in more than one parameter group");
                }
            }
        }
        groups_.push_back(std::move(group));
    }

    std::vector<ParamGroup>& param_groups() { return groups_; }
    std::size_t num_param_groups() const override { return groups_.size(); }
    std::vector<Parameter>& group_params(std::size_t group) override { return groups_.at(group).params; }
    std::vector<OptionField> group_options(std::size_t group) override { return groups_.at(group).options.fields(); }
    const Options& defaults() const { return defaults_; }

    void step() override {
        for (auto& group : groups_) {
            for (auto& p : group.params) {
                if (is_lazy(p)) continue;
                Tensor grad = p.grad();
                if (!grad.defined()) continue;
                State& state = state_[p.impl_ptr().get()];
                state.step += 1;
                update(p, grad, state, group.options);
            }
        }
    }

    /// Whether State declares `name` one number per parameter (State::kScalarTensors, optional).
    static bool is_scalar_state(std::string_view name) {
        if constexpr (requires { State::kScalarTensors; }) {
            for (std::string_view scalar : State::kScalarTensors) {
                if (scalar == name) return true;
            }
        }
        return false;
    }

    /// The state of one parameter (created by its first step), or null.
    State* state_of(const Parameter& p) {
        auto it = state_.find(p.impl_ptr().get());
        return it == state_.end() ? nullptr : &it->second;
    }

    StateDict state_dict() override {
        StateDict out;
        std::int64_t index = 0;
        for (std::size_t g = 0; g < groups_.size(); ++g) {
            const std::string prefix = "param_groups." + std::to_string(g) + ".";
            for (const auto& f : groups_[g].options.fields()) {
                out.insert(prefix + f.name, scalar_tensor(f.number ? *f.number : (*f.flag ? 1.0 : 0.0), kFloat64));
            }
            std::vector<std::int64_t> ids;
            for (const auto& p : groups_[g].params) {
                if (State* s = state_of(p)) {
                    const std::string sp = "state." + std::to_string(index) + ".";
                    out.insert(sp + "step", scalar_tensor(s->step, kFloat64));
                    for (auto& [name, t] : s->tensors()) {
                        if (t->defined()) out.insert(sp + name, t->detach());
                    }
                }
                ids.push_back(index++);
            }
            out.insert(prefix + "params", tensor(ids, {static_cast<std::int64_t>(ids.size())}));
        }
        return out;
    }

    /// Restores what state_dict() wrote. Everything is checked before anything changes (group
    /// count and sizes, finite options and steps, every state tensor's shape against its
    /// parameter's), so a bad dict throws a ValueError naming the key and leaves the optimizer as
    /// it was; the loaded state replaces the current one, as in PyTorch.
    void load_state_dict(const StateDict& sd) override {
        const auto number = [&](const std::string& key) {
            const Tensor& t = sd.at(key);
            if (!t.defined() || is_lazy(t) || t.numel() != 1) {
                throw ValueError(
                    "optimizer load_state_dict: '" + key + "' must hold one number, got " +
                    (t.defined() && !is_lazy(t) ? "shape " + shape_to_list(t.shape()) : std::string("no tensor")));
            }
            const double v = t.template item<double>();
            if (!std::isfinite(v))
                throw ValueError("optimizer load_state_dict: '" + key + "' is not finite (" + std::to_string(v) + ")");
            return v;
        };
        std::vector<std::vector<std::pair<OptionField, double>>> options(groups_.size());
        std::unordered_map<const TensorImpl*, State> loaded;
        std::int64_t index = 0;
        for (std::size_t g = 0; g < groups_.size(); ++g) {
            const std::string prefix = "param_groups." + std::to_string(g) + ".";
            if (!sd.contains(prefix + "params")) {
                throw ValueError("loaded state dict has a different number of parameter groups (no group " +
                                 std::to_string(g) + ")");
            }
            const Tensor& ids = sd.at(prefix + "params");
            if (!ids.defined() || is_lazy(ids) || ids.numel() != static_cast<std::int64_t>(groups_[g].params.size())) {
                throw ValueError(
                    "loaded state dict contains a parameter group that doesn't match the size of optimizer's group " +
                    std::to_string(g) + ": it holds " +
                    (ids.defined() && !is_lazy(ids) ? std::to_string(ids.numel()) : std::string("no")) +
                    " parameters, this optimizer's group " + std::to_string(groups_[g].params.size()) +
                    "; build the optimizer from the same model's parameters(), in the same order");
            }
            for (auto& f : groups_[g].options.fields()) {
                if (sd.contains(prefix + f.name)) options[g].emplace_back(f, number(prefix + f.name));
            }
            for (auto& p : groups_[g].params) {
                const std::string sp = "state." + std::to_string(index) + ".";
                const std::string which = "parameter " + std::to_string(index++) + " (group " + std::to_string(g) + ")";
                if (!sd.contains(sp + "step")) continue;
                if (is_lazy(p)) {
                    throw ValueError("optimizer load_state_dict: " + which +
                                     " is still uninitialized; load the model (or run a forward) first");
                }
                State s;
                s.step = number(sp + "step");
                if (s.step < 0)
                    throw ValueError("optimizer load_state_dict: '" + sp + "step' is negative (" +
                                     std::to_string(s.step) + ")");
                for (auto& [name, t] : s.tensors()) {
                    if (!sd.contains(sp + name)) continue;
                    const Tensor& stored = sd.at(sp + name);
                    // State entries listed in State::kScalarTensors (NAdam's mu_product, ASGD's eta
                    // and mu) hold one number; every other has the parameter's shape.
                    const Shape expected = is_scalar_state(name) ? Shape{} : p.shape();
                    if (!stored.defined() || is_lazy(stored) || stored.shape() != expected ||
                        stored.dtype() == kInt64) {
                        throw ValueError("optimizer load_state_dict: '" + sp + name + "' for " + which +
                                         " must be a floating-point tensor of shape " + shape_to_list(expected) +
                                         ", got " +
                                         (stored.defined() && !is_lazy(stored)
                                              ? dtype_name(stored.dtype()) + " " + shape_to_list(stored.shape())
                                              : std::string("no tensor")));
                    }
                    NoGradGuard no_grad;
                    *t = stored.to(p.dtype()).clone();
                }
                loaded[p.impl_ptr().get()] = std::move(s);
            }
        }
        if (sd.contains("param_groups." + std::to_string(groups_.size()) + ".params")) {
            throw ValueError("loaded state dict has a different number of parameter groups (more than " +
                             std::to_string(groups_.size()) + ")");
        }
        for (auto& group : options) {
            for (auto& [f, v] : group) {
                if (f.number)
                    *f.number = v;
                else
                    *f.flag = v != 0.0;
            }
        }
        state_ = std::move(loaded);
    }

protected:
    const char* name_;
    /// One fused update of `param` from `grad` (the extension point of every optimizer).
    /// requires: param is materialised (not lazy) and has a gradient; grad has param's shape;
    ///           state.step already counts this step (1 on the first call for param);
    ///           options is param's group's options, already validated.
    /// ensures:  param's data and state's buffers hold the result of one step, written in place
    ///           (param's version is bumped) without recording autograd history; state.step is
    ///           unchanged. Throws ShapeError / DtypeError naming the optimizer for bad input.
    virtual void update(Parameter& param, const Tensor& grad, State& state, const Options& options) = 0;

    std::vector<ParamGroup> groups_;
    Options defaults_;
    std::unordered_map<const TensorImpl*, State> state_;
};

/// Rescales all gradients so their joint norm is at most max_norm; returns the norm before.
double clip_grad_norm_(const std::vector<Parameter>& parameters, double max_norm, double norm_type = 2.0);
/// Clamps every gradient element into [-clip_value, clip_value].
void clip_grad_value_(const std::vector<Parameter>& parameters, double clip_value);

}  // namespace lazynn::optim
