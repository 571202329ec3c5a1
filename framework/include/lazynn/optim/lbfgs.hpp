#pragma once
// L-BFGS: a quasi-Newton optimizer that re-evaluates the model through a closure, with PyTorch
// 1.13's defaults, iteration and (optional) strong-Wolfe line search. Each step() runs up to
// max_iter iterations: a search direction from the last history_size curvature pairs (two-loop
// recursion), then either a fixed step of lr (the first scaled by min(1, 1/|g|_1)) or a line search
// satisfying the strong Wolfe conditions (c1 = 1e-4, c2 = 0.9, at most 25 evaluations, cubic
// interpolation). Meant for full-batch, deterministic objectives.
//
// Example:
//     optim::LBFGS opt(model.parameters(), optim::LBFGSOptions(1).line_search_fn(optim::LineSearch::StrongWolfe));
//     for (int i = 0; i < 10; ++i) {
//         opt.step([&] {
//             opt.zero_grad();
//             Tensor loss = loss_fn(model(x), y);
//             loss.backward();
//             return loss;
//         });
//     }
//
// Contract (requires / ensures):
//   - One parameter group (the constructor takes a parameter list; PyTorch refuses groups too).
//     Parameters still uninitialised at construction join once materialised (the closure's first
//     forward does it).
//   - step(closure) requires a closure that clears the gradients, computes the loss with autograd,
//     calls backward() and returns the loss (a one-element tensor: ValueError otherwise). It
//     returns the closure's first loss; parameters are updated in place without autograd history.
//   - step() without a closure throws RuntimeError.
//   - state_dict() holds every option ("param_groups.0.max_iter", line_search_fn as 0/1, ...) and
//     the state PyTorch keeps on its first parameter: "state.0." func_evals, n_iter, d, t,
//     old_dirs.{k}, old_stps.{k}, ro, H_diag, prev_flat_grad, prev_loss.

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

namespace lazynn::optim {

/// LBFGS's line search (PyTorch's line_search_fn: None or "strong_wolfe").
enum class LineSearch { None, StrongWolfe };

struct LBFGSOptions {
    static constexpr const char* kName = "LBFGS";
    /// Refuses what would fail or loop inside step(): max_iter, max_eval and history_size below 1,
    /// a non-finite lr, negative tolerances (ValueError naming `optimizer`). PyTorch checks none.
    void validate(const char* optimizer) const;
    explicit LBFGSOptions(double lr = 1) : lr_(lr) {}
    LAZYNN_ARG(double, lr);
    LAZYNN_ARG(std::int64_t, max_iter) = 20;
    /// Function evaluations per step; unset means max_iter * 5 / 4 (PyTorch's default).
    LAZYNN_ARG(std::optional<std::int64_t>, max_eval) = std::nullopt;
    LAZYNN_ARG(double, tolerance_grad) = 1e-7;
    LAZYNN_ARG(double, tolerance_change) = 1e-9;
    LAZYNN_ARG(std::int64_t, history_size) = 100;
    LAZYNN_ARG(LineSearch, line_search_fn) = LineSearch::None;

public:
    std::int64_t effective_max_eval() const { return max_eval_.value_or(max_iter_ * 5 / 4); }
    /// The numeric options by PyTorch's names, for state_dict and schedulers.
    std::vector<OptionField> fields() {
        return {{"lr", &lr_}, {"tolerance_grad", &tolerance_grad_}, {"tolerance_change", &tolerance_change_}};
    }
};

/// What LBFGS keeps between steps (PyTorch's state of its first parameter).
struct LBFGSState {
    double func_evals = 0;
    double n_iter = 0;
    Tensor d;                      // the last search direction (flat)
    double t = 0;                  // the last step size
    std::vector<Tensor> old_dirs;  // gradient differences y
    std::vector<Tensor> old_stps;  // steps s
    std::vector<double> ro;        // 1 / (y . s)
    double H_diag = 1;             // the initial Hessian scale (y . s) / (y . y)
    Tensor prev_flat_grad;
    double prev_loss = 0;
};

/// L-BFGS (see the file comment).
class LBFGS : public Optimizer {
public:
    /// requires: a non-empty parameter list (ValueError, PyTorch's message otherwise); options as
    /// LBFGSOptions::validate accepts.
    explicit LBFGS(std::vector<Parameter> params, LBFGSOptions options = LBFGSOptions());

    /// Up to max_iter iterations, re-evaluating through `closure` (see the contract); returns the
    /// loss the first evaluation gave.
    Tensor step(const std::function<Tensor()>& closure);
    /// Throws RuntimeError: LBFGS needs a closure.
    void step() override;

    std::size_t num_param_groups() const override { return 1; }
    std::vector<Parameter>& group_params(std::size_t group) override;
    std::vector<OptionField> group_options(std::size_t group) override;
    const LBFGSOptions& options() const { return options_; }
    const LBFGSState& state() const { return state_; }

    StateDict state_dict() override;
    /// Restores what state_dict() wrote; everything is checked first (shapes against the
    /// parameters' total size, counts, finite numbers), so a bad dict throws ValueError naming the
    /// key and leaves the optimizer as it was.
    void load_state_dict(const StateDict& state) override;

private:
    std::int64_t numel() const;
    Tensor gather_flat_grad() const;
    void add_grad(double step_size, const Tensor& update);
    std::vector<Tensor> clone_params() const;
    void set_params(const std::vector<Tensor>& values);
    /// The loss and flat gradient at x + t d, leaving the parameters at x.
    std::pair<double, Tensor> directional_evaluate(const std::function<double()>& closure, const std::vector<Tensor>& x,
                                                   double t, const Tensor& d);

    std::vector<Parameter> params_;
    LBFGSOptions options_;
    LBFGSState state_;
};

}  // namespace lazynn::optim
