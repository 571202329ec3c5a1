#pragma once
// Learning-rate schedulers with PyTorch's closed forms. Construction records each group's
// base lr (epoch 0); every step() advances one epoch (or batch) and writes the new lr into the
// optimizer. state_dict() holds last_epoch and the base lrs (plus ReduceLROnPlateau's counters).

#include <lazynn/optim/optimizer.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace lazynn::optim {

class LRScheduler {
public:
    explicit LRScheduler(Optimizer& optimizer);
    virtual ~LRScheduler() = default;
    LRScheduler(const LRScheduler&) = delete;
    LRScheduler& operator=(const LRScheduler&) = delete;

    /// Advances one epoch and applies the new learning rates.
    void step();
    /// The lrs of the last step(), one per group.
    const std::vector<double>& get_last_lr() const { return last_lr_; }
    std::int64_t last_epoch() const { return last_epoch_; }
    const std::vector<double>& base_lrs() const { return base_lrs_; }
    /// The lr of `group` at `epoch` (the closed form).
    virtual double lr_at(std::int64_t epoch, std::size_t group) const = 0;

    virtual StateDict state_dict() const;
    virtual void load_state_dict(const StateDict& state);

protected:
    void apply(std::int64_t epoch);
    Optimizer& optimizer_;
    std::vector<double> base_lrs_;
    std::vector<double> last_lr_;
    std::int64_t last_epoch_ = 0;
};

/// lr = base * gamma^(epoch // step_size)
class StepLR : public LRScheduler {
public:
    StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma = 0.1);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    std::int64_t step_size_;
    double gamma_;
};

/// lr = base * gamma^(number of milestones <= epoch)
class MultiStepLR : public LRScheduler {
public:
    MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    std::vector<std::int64_t> milestones_;
    double gamma_;
};

/// lr = base * gamma^epoch
class ExponentialLR : public LRScheduler {
public:
    ExponentialLR(Optimizer& optimizer, double gamma);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    double gamma_;
};

/// lr = eta_min + (base - eta_min) (1 + cos(pi epoch / T_max)) / 2
class CosineAnnealingLR : public LRScheduler {
public:
    CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min = 0.0);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    std::int64_t t_max_;
    double eta_min_;
};

/// Cosine annealing restarted after T_0, T_0*T_mult, T_0*T_mult^2, ... epochs (SGDR).
class CosineAnnealingWarmRestarts : public LRScheduler {
public:
    CosineAnnealingWarmRestarts(Optimizer& optimizer, std::int64_t t_0, std::int64_t t_mult = 1, double eta_min = 0.0);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    std::int64_t t_0_, t_mult_;
    double eta_min_;
};

/// lr = base * (start + (end - start) * min(epoch, total_iters) / total_iters)
class LinearLR : public LRScheduler {
public:
    LinearLR(Optimizer& optimizer, double start_factor = 1.0 / 3, double end_factor = 1.0, std::int64_t total_iters = 5);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    double start_, end_;
    std::int64_t total_iters_;
};

/// lr = base * lambda(epoch)
class LambdaLR : public LRScheduler {
public:
    LambdaLR(Optimizer& optimizer, std::function<double(std::int64_t)> lambda);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    std::function<double(std::int64_t)> lambda_;
};

struct OneCycleOptions {
    explicit OneCycleOptions(double max_lr, std::int64_t total_steps) : max_lr_(max_lr), total_steps_(total_steps) {}
    OneCycleOptions& pct_start(double v) { pct_start_ = v; return *this; }
    OneCycleOptions& anneal_cos(bool v) { anneal_cos_ = v; return *this; }
    OneCycleOptions& cycle_momentum(bool v) { cycle_momentum_ = v; return *this; }
    OneCycleOptions& base_momentum(double v) { base_momentum_ = v; return *this; }
    OneCycleOptions& max_momentum(double v) { max_momentum_ = v; return *this; }
    OneCycleOptions& div_factor(double v) { div_factor_ = v; return *this; }
    OneCycleOptions& final_div_factor(double v) { final_div_factor_ = v; return *this; }
    OneCycleOptions& three_phase(bool v) { three_phase_ = v; return *this; }
    double max_lr_;
    std::int64_t total_steps_;
    double pct_start_ = 0.3;
    bool anneal_cos_ = true;
    bool cycle_momentum_ = true;
    double base_momentum_ = 0.85, max_momentum_ = 0.95, div_factor_ = 25.0, final_div_factor_ = 1e4;
    bool three_phase_ = false;
};

/// The 1cycle policy (Smith & Topin): warm up to max_lr, then anneal far below the start.
/// With cycle_momentum it cycles the optimizer's "momentum" (SGD, RMSprop) or "beta1" (Adam family)
/// inversely. Stepping past total_steps throws ValueError.
class OneCycleLR : public LRScheduler {
public:
    OneCycleLR(Optimizer& optimizer, OneCycleOptions options);
    double lr_at(std::int64_t epoch, std::size_t group) const override;
    double momentum_at(std::int64_t epoch) const;

private:
    struct Phase {
        double end_step, start_lr, end_lr, start_m, end_m;
    };
    double anneal(double start, double end, double pct) const;
    double value_at(std::int64_t step, bool momentum) const;
    OneCycleOptions options_;
    std::vector<Phase> phases_;
    friend class OneCycleMomentum;
};

/// Runs one scheduler after another: schedulers[i] takes over (from its own epoch 0) at
/// milestones[i-1].
class SequentialLR : public LRScheduler {
public:
    SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers, std::vector<std::int64_t> milestones);
    double lr_at(std::int64_t epoch, std::size_t group) const override;

private:
    std::vector<std::shared_ptr<LRScheduler>> schedulers_;
    std::vector<std::int64_t> milestones_;
};

/// Cuts the lr by `factor` when a metric has stopped improving for `patience` epochs.
class ReduceLROnPlateau {
public:
    struct Options {
        Options() {}
        Options& mode_max(bool v) { mode_max_ = v; return *this; }
        Options& factor(double v) { factor_ = v; return *this; }
        Options& patience(std::int64_t v) { patience_ = v; return *this; }
        Options& threshold(double v) { threshold_ = v; return *this; }
        Options& threshold_mode_abs(bool v) { threshold_abs_ = v; return *this; }
        Options& cooldown(std::int64_t v) { cooldown_ = v; return *this; }
        Options& min_lr(double v) { min_lr_ = v; return *this; }
        Options& eps(double v) { eps_ = v; return *this; }
        bool mode_max_ = false;
        double factor_ = 0.1;
        std::int64_t patience_ = 10;
        double threshold_ = 1e-4;
        bool threshold_abs_ = false;
        std::int64_t cooldown_ = 0;
        double min_lr_ = 0.0;
        double eps_ = 1e-8;
    };
    explicit ReduceLROnPlateau(Optimizer& optimizer, Options options = Options());
    void step(double metric);
    std::vector<double> get_last_lr() const;
    StateDict state_dict() const;
    void load_state_dict(const StateDict& state);

private:
    bool is_better(double a, double best) const;
    Optimizer& optimizer_;
    Options options_;
    double best_;
    std::int64_t num_bad_epochs_ = 0, cooldown_counter_ = 0, last_epoch_ = 0;
};

}  // namespace lazynn::optim
