#pragma once
// Learning-rate schedulers with PyTorch 1.13's semantics, including chaining.
//
// Contract (as torch.optim.lr_scheduler):
//   - Construction records each group's initial lr (shared by every scheduler of the optimizer,
//     PyTorch's "initial_lr") as base_lrs, then takes the initial step to epoch 0, which may
//     already change the lr (LinearLR, ConstantLR, a MultiStepLR milestone at 0).
//   - step() advances last_epoch and applies get_lr(), which, like PyTorch's, mostly adjusts the
//     optimizer's *current* lr (multiplies it, or moves it along a curve) rather than recomputing
//     it from base_lrs. So several schedulers stepped on one optimizer compose: ExponentialLR(0.9)
//     with MultiStepLR({4}, 0.5) gives 0.09, 0.081, 0.0729, 0.0328, ... LambdaLR,
//     CosineAnnealingWarmRestarts, CyclicLR and OneCycleLR are closed forms in PyTorch too.
//   - state_dict() holds only tensors: last_epoch, base_lrs, last_lr, step_count and each
//     scheduler's own counters; the hyper-parameters come from the constructor. As in PyTorch,
//     load_state_dict() does not touch the optimizer: the lr is part of the optimizer's state, so
//     save and load both (save_checkpoint does).
// Writing one: derive, implement get_lr() and call initial_step() at the end of the constructor.

#include <lazynn/optim/optimizer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace lazynn::optim {

class LRScheduler {
public:
    virtual ~LRScheduler() = default;
    LRScheduler(const LRScheduler&) = delete;
    LRScheduler& operator=(const LRScheduler&) = delete;

    /// Advances one epoch (or batch) and applies the new learning rates.
    virtual void step();
    /// Jumps to `epoch` and applies the closed form where the scheduler has one (PyTorch's
    /// deprecated step(epoch); SequentialLR uses it to start a scheduler at its milestone).
    virtual void step_to(std::int64_t epoch);

    /// The lrs after the last step, one per group.
    const std::vector<double>& get_last_lr() const { return last_lr_; }
    std::int64_t last_epoch() const { return last_epoch_; }
    const std::vector<double>& base_lrs() const { return base_lrs_; }
    Optimizer& optimizer() const { return optimizer_; }

    virtual StateDict state_dict() const;
    /// Restores the counters (checked before anything changes); the lrs come from the optimizer's state.
    virtual void load_state_dict(const StateDict& state);

protected:
    explicit LRScheduler(Optimizer& optimizer);
    /// The new lr of every group for last_epoch_ (PyTorch's get_lr, chainable where PyTorch's is).
    virtual std::vector<double> get_lr() = 0;
    /// The lrs of last_epoch_ from base_lrs alone, for step_to(); by default get_lr().
    virtual std::vector<double> closed_form_lr() { return get_lr(); }
    /// PyTorch's _initial_step: step count 0, then one step to epoch 0. Call it last in a constructor.
    void initial_step();
    /// Writes lrs into the optimizer and records them as last_lr.
    void apply(const std::vector<double>& lrs);
    /// The optimizer's current lr of every group.
    std::vector<double> current_lrs() const;
    std::size_t groups() const { return base_lrs_.size(); }

    Optimizer& optimizer_;
    std::vector<double> base_lrs_;
    std::vector<double> last_lr_;
    std::int64_t last_epoch_ = -1;
    std::int64_t step_count_ = 0;

    friend class SequentialLR;
    friend class ChainedScheduler;
};

/// Every step_size epochs: lr *= gamma.
class StepLR : public LRScheduler {
public:
    StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    std::int64_t step_size_;
    double gamma_;
};

/// At each milestone: lr *= gamma (gamma^k for a milestone listed k times; one at 0 applies at construction).
class MultiStepLR : public LRScheduler {
public:
    MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    std::vector<std::int64_t> milestones_;   // sorted, repeats kept
    double gamma_;
};

/// lr *= factor at construction, lr /= factor at total_iters.
class ConstantLR : public LRScheduler {
public:
    ConstantLR(Optimizer& optimizer, double factor = 1.0 / 3, std::int64_t total_iters = 5);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    double factor_;
    std::int64_t total_iters_;
};

/// The factor on the lr moves linearly from start_factor to end_factor over total_iters epochs.
class LinearLR : public LRScheduler {
public:
    LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, std::int64_t total_iters = 5);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    double start_, end_;
    std::int64_t total_iters_;
};

/// Every epoch: lr *= gamma.
class ExponentialLR : public LRScheduler {
public:
    ExponentialLR(Optimizer& optimizer, double gamma);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    double gamma_;
};

/// lr *= ((1 - e/total_iters) / (1 - (e-1)/total_iters))^power up to total_iters, so alone it
/// follows base * (1 - e/total_iters)^power down to 0.
class PolynomialLR : public LRScheduler {
public:
    PolynomialLR(Optimizer& optimizer, std::int64_t total_iters = 5, double power = 1.0);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    std::int64_t total_iters_;
    double power_;
};

/// Cosine from the lr down to eta_min over T_max epochs (and back up, periodically), in PyTorch's
/// recursive form.
class CosineAnnealingLR : public LRScheduler {
public:
    CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min = 0.0);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    std::int64_t t_max_;
    double eta_min_;
};

/// lr = base * lambda(epoch) (per group with one function per group). Not chainable, as in PyTorch.
class LambdaLR : public LRScheduler {
public:
    using Lambda = std::function<double(std::int64_t)>;
    LambdaLR(Optimizer& optimizer, Lambda lambda);
    LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

protected:
    std::vector<double> get_lr() override;

private:
    std::vector<Lambda> lambdas_;
};

/// From epoch 1 on: lr *= lambda(epoch) (per group with one function per group).
class MultiplicativeLR : public LRScheduler {
public:
    using Lambda = std::function<double(std::int64_t)>;
    MultiplicativeLR(Optimizer& optimizer, Lambda lambda);
    MultiplicativeLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

protected:
    std::vector<double> get_lr() override;

private:
    std::vector<Lambda> lambdas_;
};

/// Cosine annealing restarted after T_0, T_0*T_mult, T_0*T_mult^2, ... epochs (SGDR). step(epoch)
/// takes fractional epochs (epoch + batch / batches_per_epoch) for per-batch updates.
class CosineAnnealingWarmRestarts : public LRScheduler {
public:
    CosineAnnealingWarmRestarts(Optimizer& optimizer, std::int64_t t_0, std::int64_t t_mult = 1, double eta_min = 0.0);
    void step() override;
    /// Jumps to a (possibly fractional) epoch; negative epochs are a ValueError.
    void step(double epoch);
    void step_to(std::int64_t epoch) override { step(static_cast<double>(epoch)); }
    double t_cur() const { return t_cur_; }

    StateDict state_dict() const override;
    void load_state_dict(const StateDict& state) override;

protected:
    std::vector<double> get_lr() override;

private:
    std::int64_t t_0_, t_mult_;
    double eta_min_;
    double t_i_, t_cur_;
};

/// CyclicLR's options (PyTorch's defaults). The lr cycles between base_lr and max_lr; with
/// cycle_momentum the optimizer's "momentum" cycles inversely between max and base momentum.
struct CyclicLROptions {
    enum class Mode { Triangular, Triangular2, ExpRange };
    enum class ScaleMode { Cycle, Iterations };
    CyclicLROptions(double base_lr, double max_lr) : base_lrs_{base_lr}, max_lrs_{max_lr} {}
    /// One base and one max lr per parameter group.
    CyclicLROptions(std::vector<double> base_lrs, std::vector<double> max_lrs) : base_lrs_(std::move(base_lrs)), max_lrs_(std::move(max_lrs)) {}
    CyclicLROptions& step_size_up(std::int64_t v) { step_size_up_ = v; return *this; }
    CyclicLROptions& step_size_down(std::int64_t v) { step_size_down_ = v; return *this; }
    CyclicLROptions& mode(Mode v) { mode_ = v; return *this; }
    CyclicLROptions& gamma(double v) { gamma_ = v; return *this; }
    /// A custom amplitude scale (replaces the mode's), evaluated on the cycle number or the iteration.
    CyclicLROptions& scale_fn(std::function<double(double)> fn, ScaleMode on = ScaleMode::Cycle) {
        scale_fn_ = std::move(fn);
        scale_mode_ = on;
        return *this;
    }
    CyclicLROptions& cycle_momentum(bool v) { cycle_momentum_ = v; return *this; }
    CyclicLROptions& base_momentum(double v) { base_momentum_ = v; return *this; }
    CyclicLROptions& max_momentum(double v) { max_momentum_ = v; return *this; }
    std::vector<double> base_lrs_, max_lrs_;
    std::int64_t step_size_up_ = 2000;
    std::optional<std::int64_t> step_size_down_;
    Mode mode_ = Mode::Triangular;
    double gamma_ = 1.0;
    std::function<double(double)> scale_fn_;
    ScaleMode scale_mode_ = ScaleMode::Cycle;
    bool cycle_momentum_ = true;
    double base_momentum_ = 0.8, max_momentum_ = 0.9;
};

/// Cyclical learning rates (Smith, 2017): triangular, triangular2 (amplitude halves each cycle),
/// exp_range (amplitude * gamma^iteration) or a custom scale. Sets the lr to base_lr at
/// construction; cycle_momentum needs an optimizer with a "momentum" option (ValueError otherwise).
class CyclicLR : public LRScheduler {
public:
    CyclicLR(Optimizer& optimizer, CyclicLROptions options);

protected:
    std::vector<double> get_lr() override;

private:
    double scale(double x) const;
    CyclicLROptions options_;
    double total_size_, step_ratio_;
    std::vector<double> base_momenta_;
};

struct OneCycleOptions {
    /// The schedule's length as total_steps ...
    OneCycleOptions(double max_lr, std::int64_t total_steps) : max_lr_(max_lr), total_steps_(total_steps) {}
    /// ... or as epochs(n).steps_per_epoch(m) (total n * m), as PyTorch allows.
    explicit OneCycleOptions(double max_lr) : max_lr_(max_lr) {}
    OneCycleOptions& epochs(std::int64_t v) { epochs_ = v; return *this; }
    OneCycleOptions& steps_per_epoch(std::int64_t v) { steps_per_epoch_ = v; return *this; }
    OneCycleOptions& pct_start(double v) { pct_start_ = v; return *this; }
    OneCycleOptions& anneal_cos(bool v) { anneal_cos_ = v; return *this; }
    OneCycleOptions& cycle_momentum(bool v) { cycle_momentum_ = v; return *this; }
    OneCycleOptions& base_momentum(double v) { base_momentum_ = v; return *this; }
    OneCycleOptions& max_momentum(double v) { max_momentum_ = v; return *this; }
    OneCycleOptions& div_factor(double v) { div_factor_ = v; return *this; }
    OneCycleOptions& final_div_factor(double v) { final_div_factor_ = v; return *this; }
    OneCycleOptions& three_phase(bool v) { three_phase_ = v; return *this; }
    double max_lr_;
    std::optional<std::int64_t> total_steps_, epochs_, steps_per_epoch_;
    double pct_start_ = 0.3;
    bool anneal_cos_ = true;
    bool cycle_momentum_ = true;
    double base_momentum_ = 0.85, max_momentum_ = 0.95, div_factor_ = 25.0, final_div_factor_ = 1e4;
    bool three_phase_ = false;
};

/// The 1cycle policy (Smith & Topin): warm up to max_lr, then anneal far below the start. Sets
/// the optimizer's initial lr to max_lr / div_factor. With cycle_momentum it cycles "momentum"
/// (SGD, RMSprop) or "beta1" (Adam family) inversely. Stepping past total_steps is a ValueError.
class OneCycleLR : public LRScheduler {
public:
    OneCycleLR(Optimizer& optimizer, OneCycleOptions options);
    std::int64_t total_steps() const { return total_steps_; }

protected:
    std::vector<double> get_lr() override;

private:
    struct Phase {
        double end_step, start_lr, end_lr, start_m, end_m;
    };
    double anneal(double start, double end, double pct) const;
    OneCycleOptions options_;
    std::int64_t total_steps_;
    std::vector<Phase> phases_;
    const char* momentum_name_ = nullptr;
};

/// Runs one scheduler after another: schedulers[i] takes over at milestones[i-1], starting from
/// its own epoch 0 (closed form where it has one). The schedulers must drive `optimizer`.
class SequentialLR : public LRScheduler {
public:
    SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers, std::vector<std::int64_t> milestones);
    void step() override;
    StateDict state_dict() const override;
    void load_state_dict(const StateDict& state) override;

protected:
    std::vector<double> get_lr() override { return current_lrs(); }

private:
    std::vector<std::shared_ptr<LRScheduler>> schedulers_;
    std::vector<std::int64_t> milestones_;
};

/// Steps several schedulers of one optimizer together, in order, so their effects compose.
class ChainedScheduler : public LRScheduler {
public:
    explicit ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers);
    void step() override;
    void step_to(std::int64_t epoch) override;
    StateDict state_dict() const override;
    void load_state_dict(const StateDict& state) override;

protected:
    std::vector<double> get_lr() override { return current_lrs(); }

private:
    std::vector<std::shared_ptr<LRScheduler>> schedulers_;
};

/// Cuts the lr by `factor` when a metric has stopped improving for `patience` epochs. An
/// LRScheduler, so save_checkpoint keeps its counters; its step needs the metric (step() without
/// one is a ValueError).
class ReduceLROnPlateau : public LRScheduler {
public:
    struct Options {
        Options() {}
        Options& mode_max(bool v) { mode_max_ = v; return *this; }
        Options& factor(double v) { factor_ = v; return *this; }
        Options& patience(std::int64_t v) { patience_ = v; return *this; }
        Options& threshold(double v) { threshold_ = v; return *this; }
        Options& threshold_mode_abs(bool v) { threshold_abs_ = v; return *this; }
        Options& cooldown(std::int64_t v) { cooldown_ = v; return *this; }
        Options& min_lr(double v) { min_lrs_ = {v}; return *this; }
        /// One floor per parameter group.
        Options& min_lrs(std::vector<double> v) { min_lrs_ = std::move(v); return *this; }
        Options& eps(double v) { eps_ = v; return *this; }
        bool mode_max_ = false;
        double factor_ = 0.1;
        std::int64_t patience_ = 10;
        double threshold_ = 1e-4;
        bool threshold_abs_ = false;
        std::int64_t cooldown_ = 0;
        std::vector<double> min_lrs_{0.0};
        double eps_ = 1e-8;
    };
    explicit ReduceLROnPlateau(Optimizer& optimizer, Options options = Options());
    void step(double metric);
    /// A plateau needs the metric: ValueError.
    void step() override;
    void step_to(std::int64_t epoch) override;
    double best() const { return best_; }

    StateDict state_dict() const override;
    void load_state_dict(const StateDict& state) override;

protected:
    std::vector<double> get_lr() override { return current_lrs(); }

private:
    bool is_better(double a, double best) const;
    Options options_;
    std::vector<double> min_lrs_;
    double best_;
    std::int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0;
};

}  // namespace lazynn::optim
