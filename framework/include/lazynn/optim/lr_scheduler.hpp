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

#include <lazynn/arg.hpp>
#include <lazynn/optim/optimizer.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace lazynn::optim {

/// The base of every scheduler: it owns the epoch counter and the per-group base and last lrs.
/// A subclass implements get_lr() and calls initial_step() last in its constructor.
///
/// Example:
///     struct InverseLR : optim::LRScheduler {  // lr = base_lr / (1 + epoch)
///         explicit InverseLR(optim::Optimizer& opt) : LRScheduler(opt) { initial_step(); }
///         std::vector<double> get_lr() override {
///             std::vector<double> lrs = base_lrs_;
///             for (double& lr : lrs) lr /= 1.0 + static_cast<double>(last_epoch_);
///             return lrs;
///         }
///     };
class LRScheduler {
public:
    virtual ~LRScheduler() = default;
    LRScheduler(const LRScheduler&) = delete;
    LRScheduler& operator=(const LRScheduler&) = delete;

    /// Advances one epoch (or batch) and applies the new learning rates.
    /// requires: the optimizer outlives this scheduler and has as many groups as at construction.
    /// ensures:  last_epoch() grew by one; every group's lr is get_lr()'s value for it, and
    ///           get_last_lr() returns those lrs.
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
    /// requires: last_epoch_ already holds the epoch being entered; current_lrs() is the lr the
    ///           optimizer has now (other schedulers may have changed it since the last step).
    /// ensures:  returns one lr per group (groups() values); the optimizer's lrs are unchanged
    ///           (apply() writes them). It may update other group options (CyclicLR and
    ///           OneCycleLR move "momentum").
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
///
/// Example:
///     optim::StepLR scheduler(optimizer, /*step_size=*/30, /*gamma=*/0.1);   // lr * 0.1 at epochs 30, 60, ...
///     // once per epoch, after training: scheduler.step();
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
///
/// Example:
///     optim::MultiStepLR scheduler(optimizer, {30, 80}, 0.1);   // lr * 0.1 from epoch 30, * 0.01 from epoch 80
class MultiStepLR : public LRScheduler {
public:
    MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    std::vector<std::int64_t> milestones_;  // sorted, repeats kept
    double gamma_;
};

/// lr *= factor at construction, lr /= factor at total_iters.
///
/// Example:
///     optim::ConstantLR scheduler(optimizer, /*factor=*/0.5, /*total_iters=*/4);   // half the lr for epochs 0-3
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
///
/// Example:
///     optim::LinearLR warmup(optimizer, /*start_factor=*/0.1, /*end_factor=*/1.0, /*total_iters=*/10);
class LinearLR : public LRScheduler {
public:
    LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0,
             std::int64_t total_iters = 5);

protected:
    std::vector<double> get_lr() override;
    std::vector<double> closed_form_lr() override;

private:
    double start_, end_;
    std::int64_t total_iters_;
};

/// Every epoch: lr *= gamma.
///
/// Example:
///     optim::ExponentialLR scheduler(optimizer, /*gamma=*/0.95);   // lr * 0.95^epoch
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
///
/// Example:
///     optim::PolynomialLR scheduler(optimizer, /*total_iters=*/100, /*power=*/2.0);   // base * (1 - e/100)^2
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
///
/// Example:
///     optim::CosineAnnealingLR scheduler(optimizer, /*t_max=*/100, /*eta_min=*/1e-5);
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
///
/// Example:
///     optim::LambdaLR scheduler(optimizer, [](std::int64_t epoch) { return 1.0 / (1.0 + epoch); });
class LambdaLR : public LRScheduler {
public:
    using Lambda = std::function<double(std::int64_t)>;
    LambdaLR(Optimizer& optimizer, const Lambda& lambda);
    LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

protected:
    std::vector<double> get_lr() override;

private:
    std::vector<Lambda> lambdas_;
};

/// From epoch 1 on: lr *= lambda(epoch) (per group with one function per group).
///
/// Example:
///     optim::MultiplicativeLR scheduler(optimizer, [](std::int64_t) { return 0.95; });   // lr *= 0.95 from epoch 1 on
class MultiplicativeLR : public LRScheduler {
public:
    using Lambda = std::function<double(std::int64_t)>;
    MultiplicativeLR(Optimizer& optimizer, const Lambda& lambda);
    MultiplicativeLR(Optimizer& optimizer, std::vector<Lambda> lambdas);

protected:
    std::vector<double> get_lr() override;

private:
    std::vector<Lambda> lambdas_;
};

/// Cosine annealing restarted after T_0, T_0*T_mult, T_0*T_mult^2, ... epochs (SGDR). step(epoch)
/// takes fractional epochs (epoch + batch / batches_per_epoch) for per-batch updates.
///
/// Example:
///     optim::CosineAnnealingWarmRestarts scheduler(optimizer, /*t_0=*/10, /*t_mult=*/2);   // restarts at 10, 30, 70
///     // after each batch b of epoch e: scheduler.step(e + static_cast<double>(b) / batches_per_epoch);
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

/// CyclicLR's amplitude policy (PyTorch's mode "triangular", "triangular2", "exp_range").
enum class CyclicLRMode { Triangular, Triangular2, ExpRange };
/// What CyclicLR's scale function is evaluated on (PyTorch's scale_mode "cycle", "iterations").
enum class CyclicLRScaleMode { Cycle, Iterations };

/// CyclicLR's options (PyTorch's defaults). The lr cycles between base_lr and max_lr; with
/// cycle_momentum the optimizer's "momentum" cycles inversely between max and base momentum.
///
/// Example:
///     optim::CyclicLROptions(0.01, 0.1).step_size_up(4).mode(optim::CyclicLRMode::Triangular2)
struct CyclicLROptions {
    using Mode = CyclicLRMode;
    using ScaleMode = CyclicLRScaleMode;
    CyclicLROptions(double base_lr, double max_lr) : base_lrs_{base_lr}, max_lrs_{max_lr} {}
    /// One base and one max lr per parameter group.
    CyclicLROptions(std::vector<double> base_lrs, std::vector<double> max_lrs)
        : base_lrs_(std::move(base_lrs)), max_lrs_(std::move(max_lrs)) {}
    LAZYNN_ARG(std::vector<double>, base_lrs);
    LAZYNN_ARG(std::vector<double>, max_lrs);
    LAZYNN_ARG(std::int64_t, step_size_up) = 2000;
    /// Unset: equal to step_size_up.
    LAZYNN_ARG(std::optional<std::int64_t>, step_size_down);
    LAZYNN_ARG(CyclicLRMode, mode) = CyclicLRMode::Triangular;
    /// ExpRange's factor per iteration.
    LAZYNN_ARG(double, gamma) = 1.0;
    /// A custom amplitude scale (replaces the mode's), evaluated as scale_mode says.
    LAZYNN_ARG(std::function<double(double)>, scale_fn);
    /// Unset: Iterations for ExpRange, Cycle otherwise (or Cycle with a scale_fn), as in PyTorch.
    LAZYNN_ARG(std::optional<CyclicLRScaleMode>, scale_mode);
    LAZYNN_ARG(bool, cycle_momentum) = true;
    LAZYNN_ARG(double, base_momentum) = 0.8;
    LAZYNN_ARG(double, max_momentum) = 0.9;

public:
    /// Sets scale_fn and scale_mode together.
    CyclicLROptions& scale_fn(std::function<double(double)> fn, CyclicLRScaleMode on) {
        scale_fn_ = std::move(fn);
        scale_mode_ = on;
        return *this;
    }
};

/// Cyclical learning rates (Smith, 2017): triangular, triangular2 (amplitude halves each cycle),
/// exp_range (amplitude * gamma^iteration) or a custom scale. Sets the lr to base_lr at
/// construction; cycle_momentum needs an optimizer with a "momentum" option (ValueError otherwise).
///
/// Example:
///     optim::CyclicLR cyclic(sgd, optim::CyclicLROptions(0.01, 0.1).step_size_up(500).mode(optim::CyclicLRMode::Triangular2));
///     // after each batch: cyclic.step();
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

/// How OneCycleLR moves between phase endpoints (PyTorch's anneal_strategy "cos", "linear").
enum class AnnealStrategy { Cos, Linear };

/// OneCycleLR's options (PyTorch's defaults).
///
/// Example:
///     optim::OneCycleOptions(0.5).epochs(5).steps_per_epoch(100).anneal_strategy(optim::AnnealStrategy::Linear)
struct OneCycleOptions {
    /// The schedule's length as total_steps ...
    OneCycleOptions(double max_lr, std::int64_t total_steps) : max_lr_(max_lr), total_steps_(total_steps) {}
    /// ... or as epochs(n).steps_per_epoch(m) (total n * m), as PyTorch allows.
    explicit OneCycleOptions(double max_lr) : max_lr_(max_lr) {}
    LAZYNN_ARG(double, max_lr);
    LAZYNN_ARG(std::optional<std::int64_t>, total_steps);
    LAZYNN_ARG(std::optional<std::int64_t>, epochs);
    LAZYNN_ARG(std::optional<std::int64_t>, steps_per_epoch);
    /// The fraction of the schedule spent warming up.
    LAZYNN_ARG(double, pct_start) = 0.3;
    LAZYNN_ARG(AnnealStrategy, anneal_strategy) = AnnealStrategy::Cos;
    LAZYNN_ARG(bool, cycle_momentum) = true;
    LAZYNN_ARG(double, base_momentum) = 0.85;
    LAZYNN_ARG(double, max_momentum) = 0.95;
    /// The initial lr is max_lr / div_factor.
    LAZYNN_ARG(double, div_factor) = 25.0;
    /// The final lr is the initial lr / final_div_factor.
    LAZYNN_ARG(double, final_div_factor) = 1e4;
    LAZYNN_ARG(bool, three_phase) = false;
};

/// The 1cycle policy (Smith & Topin): warm up to max_lr, then anneal far below the start. Sets
/// the optimizer's initial lr to max_lr / div_factor. With cycle_momentum it cycles "momentum"
/// (SGD, RMSprop) or "beta1" (Adam family) inversely. Stepping past total_steps is a ValueError.
///
/// Example:
///     optim::OneCycleLR one_cycle(adam, optim::OneCycleOptions(1e-2).epochs(10).steps_per_epoch(loader.size()));
///     // after each batch: one_cycle.step();
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
///
/// Example:
///     auto warmup = std::make_shared<optim::LinearLR>(optimizer, 0.1, 1.0, 5);
///     auto decay = std::make_shared<optim::CosineAnnealingLR>(optimizer, 95);
///     optim::SequentialLR scheduler(optimizer, {warmup, decay}, /*milestones=*/{5});   // decay from epoch 5
class SequentialLR : public LRScheduler {
public:
    SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                 std::vector<std::int64_t> milestones);
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
///
/// Example:
///     auto decay = std::make_shared<optim::ExponentialLR>(optimizer, 0.9);
///     auto cut = std::make_shared<optim::StepLR>(optimizer, 30, 0.5);
///     optim::ChainedScheduler scheduler({decay, cut});   // scheduler.step() steps both, in order
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

/// Whether ReduceLROnPlateau's metric should go down or up (PyTorch's mode "min", "max").
enum class PlateauMode { Min, Max };
/// How the improvement threshold applies (PyTorch's threshold_mode "rel", "abs"): Rel needs
/// best * (1 -/+ threshold), Abs best -/+ threshold.
enum class ThresholdMode { Rel, Abs };

/// ReduceLROnPlateau's options (PyTorch's defaults).
///
/// Example:
///     optim::ReduceLROnPlateauOptions().mode(optim::PlateauMode::Max).patience(2).factor(0.5)
struct ReduceLROnPlateauOptions {
    LAZYNN_ARG(PlateauMode, mode) = PlateauMode::Min;
    /// The lr is multiplied by factor (< 1) on a plateau.
    LAZYNN_ARG(double, factor) = 0.1;
    /// Epochs without improvement tolerated before the lr is cut.
    LAZYNN_ARG(std::int64_t, patience) = 10;
    LAZYNN_ARG(double, threshold) = 1e-4;
    LAZYNN_ARG(ThresholdMode, threshold_mode) = ThresholdMode::Rel;
    /// Epochs to wait after a cut before counting bad epochs again.
    LAZYNN_ARG(std::int64_t, cooldown) = 0;
    /// One floor per parameter group (a single value applies to every group).
    LAZYNN_ARG(std::vector<double>, min_lrs) = std::vector<double>{0.0};
    /// Cuts smaller than eps are skipped.
    LAZYNN_ARG(double, eps) = 1e-8;

public:
    /// One floor for every group.
    ReduceLROnPlateauOptions& min_lr(double v) {
        min_lrs_ = {v};
        return *this;
    }
};

/// Cuts the lr by `factor` when a metric has stopped improving for `patience` epochs. An
/// LRScheduler, so save_checkpoint keeps its counters; its step needs the metric (step() without
/// one is a ValueError).
///
/// Example:
///     optim::ReduceLROnPlateau plateau(optimizer, optim::ReduceLROnPlateauOptions().patience(5).factor(0.5));
///     plateau.step(validation_loss);
class ReduceLROnPlateau : public LRScheduler {
public:
    using Options = ReduceLROnPlateauOptions;
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

/// PyTorch's strings for the scheduler enums ("triangular", "cos", "min", "rel", ...), for
/// configurations and logs; parse_* throw ValueError naming the accepted strings.
const char* to_string(CyclicLRMode mode);
const char* to_string(CyclicLRScaleMode mode);
const char* to_string(AnnealStrategy strategy);
const char* to_string(PlateauMode mode);
const char* to_string(ThresholdMode mode);
CyclicLRMode parse_cyclic_lr_mode(const std::string& name);
AnnealStrategy parse_anneal_strategy(const std::string& name);
PlateauMode parse_plateau_mode(const std::string& name);
ThresholdMode parse_threshold_mode(const std::string& name);

}  // namespace lazynn::optim
