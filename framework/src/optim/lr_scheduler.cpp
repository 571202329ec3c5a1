#include <lazynn/optim/lr_scheduler.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

namespace lazynn::optim {

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
    for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) base_lrs_.push_back(optimizer.initial_lr(g));
    last_lr_ = base_lrs_;
}

void LRScheduler::apply(std::int64_t epoch) {
    last_lr_.clear();
    for (std::size_t g = 0; g < base_lrs_.size(); ++g) {
        const double lr = lr_at(epoch, g);
        optimizer_.set_lr(lr, g);
        last_lr_.push_back(lr);
    }
}

void LRScheduler::step() {
    ++last_epoch_;
    apply(last_epoch_);
}

StateDict LRScheduler::state_dict() const {
    StateDict sd;
    sd.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), kFloat64));
    sd.insert("base_lrs", tensor(base_lrs_, {static_cast<std::int64_t>(base_lrs_.size())}, kFloat64));
    return sd;
}

namespace {

/// A whole number stored as a float64 scalar (last_epoch, counters): checked before the cast,
/// which is undefined for NaN and out-of-range values.
std::int64_t stored_count(const StateDict& state, const std::string& key, const char* who) {
    const Tensor& t = state.at(key);
    if (!t.defined() || t.numel() != 1) throw ValueError(std::string(who) + " load_state_dict: '" + key + "' must hold one number");
    const double v = t.item<double>();
    // 2^53: beyond it float64 no longer holds every integer, and no schedule runs that long.
    if (!(std::abs(v) <= 9007199254740992.0) || v != std::floor(v)) {
        throw ValueError(std::string(who) + " load_state_dict: '" + key + "' must be a whole number, got " + std::to_string(v));
    }
    return static_cast<std::int64_t>(v);
}

}  // namespace

void LRScheduler::load_state_dict(const StateDict& state) {
    const std::int64_t last_epoch = stored_count(state, "last_epoch", "LRScheduler");
    if (last_epoch < 0) throw ValueError("LRScheduler load_state_dict: 'last_epoch' must not be negative, got " + std::to_string(last_epoch));
    const Tensor& lrs = state.at("base_lrs");
    if (!lrs.defined() || lrs.dim() != 1 || lrs.numel() != static_cast<std::int64_t>(base_lrs_.size())) {
        throw ValueError("LRScheduler load_state_dict: 'base_lrs' must hold one learning rate per parameter group (" +
                         std::to_string(base_lrs_.size()) + "), got shape " + (lrs.defined() ? shape_to_list(lrs.shape()) : "none"));
    }
    std::vector<double> base_lrs = lrs.to_vector<double>();
    for (double lr : base_lrs) {
        if (!std::isfinite(lr)) throw ValueError("LRScheduler load_state_dict: 'base_lrs' holds a non-finite value " + std::to_string(lr));
    }
    last_epoch_ = last_epoch;
    base_lrs_ = std::move(base_lrs);
    apply(last_epoch_);
}

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma) : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
    if (step_size <= 0) throw ValueError("StepLR: step_size must be positive, got " + std::to_string(step_size));
}
double StepLR::lr_at(std::int64_t epoch, std::size_t g) const {
    return base_lrs_[g] * std::pow(gamma_, static_cast<double>(epoch / step_size_));
}

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
    std::sort(milestones_.begin(), milestones_.end());
}
double MultiStepLR::lr_at(std::int64_t epoch, std::size_t g) const {
    const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin();
    return base_lrs_[g] * std::pow(gamma_, static_cast<double>(passed));
}

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {}
double ExponentialLR::lr_at(std::int64_t epoch, std::size_t g) const { return base_lrs_[g] * std::pow(gamma_, static_cast<double>(epoch)); }

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
    if (t_max <= 0) throw ValueError("CosineAnnealingLR: T_max must be positive, got " + std::to_string(t_max));
}
double CosineAnnealingLR::lr_at(std::int64_t epoch, std::size_t g) const {
    return eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos(std::numbers::pi * static_cast<double>(epoch) / static_cast<double>(t_max_))) / 2;
}

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, std::int64_t t_0, std::int64_t t_mult, double eta_min)
    : LRScheduler(optimizer), t_0_(t_0), t_mult_(t_mult), eta_min_(eta_min) {
    if (t_0 <= 0) throw ValueError("CosineAnnealingWarmRestarts: Expected positive integer T_0, but got " + std::to_string(t_0));
    if (t_mult < 1) throw ValueError("CosineAnnealingWarmRestarts: Expected integer T_mult >= 1, but got " + std::to_string(t_mult));
}
double CosineAnnealingWarmRestarts::lr_at(std::int64_t epoch, std::size_t g) const {
    double t_cur, t_i;
    const double e = static_cast<double>(epoch), t0 = static_cast<double>(t_0_), tm = static_cast<double>(t_mult_);
    if (t_mult_ == 1) {
        t_cur = static_cast<double>(epoch % t_0_);
        t_i = t0;
    } else {
        const double n = std::floor(std::log(e / t0 * (tm - 1) + 1) / std::log(tm));
        t_cur = e - t0 * (std::pow(tm, n) - 1) / (tm - 1);
        t_i = t0 * std::pow(tm, n);
    }
    return eta_min_ + (base_lrs_[g] - eta_min_) * (1 + std::cos(std::numbers::pi * t_cur / t_i)) / 2;
}

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, std::int64_t total_iters)
    : LRScheduler(optimizer), start_(start_factor), end_(end_factor), total_iters_(total_iters) {
    if (start_factor > 1.0 || start_factor <= 0) {
        throw ValueError("LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1.");
    }
    apply(0);
}
double LinearLR::lr_at(std::int64_t epoch, std::size_t g) const {
    // total_iters=0: PyTorch keeps start_factor (its recursive form never reaches the division).
    if (total_iters_ <= 0) return base_lrs_[g] * start_;
    const double progress = static_cast<double>(std::min(epoch, total_iters_)) / static_cast<double>(total_iters_);
    return base_lrs_[g] * (start_ + (end_ - start_) * progress);
}

LambdaLR::LambdaLR(Optimizer& optimizer, std::function<double(std::int64_t)> lambda) : LRScheduler(optimizer), lambda_(std::move(lambda)) {
    apply(0);
}
double LambdaLR::lr_at(std::int64_t epoch, std::size_t g) const { return base_lrs_[g] * lambda_(epoch); }

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleOptions options) : LRScheduler(optimizer), options_(options) {
    if (options.total_steps_ <= 0) throw ValueError("OneCycleLR: Expected positive integer total_steps, but got " + std::to_string(options.total_steps_));
    if (options.pct_start_ < 0 || options.pct_start_ > 1) throw ValueError("OneCycleLR: Expected float between 0 and 1 pct_start");
    const double initial = options.max_lr_ / options.div_factor_;
    const double min_lr = initial / options.final_div_factor_;
    const double total = static_cast<double>(options.total_steps_);
    const double bm = options.base_momentum_, mm = options.max_momentum_;
    if (options.three_phase_) {
        phases_ = {{options.pct_start_ * total - 1, initial, options.max_lr_, mm, bm},
                   {2 * options.pct_start_ * total - 2, options.max_lr_, initial, bm, mm},
                   {total - 1, initial, min_lr, mm, mm}};
    } else {
        phases_ = {{options.pct_start_ * total - 1, initial, options.max_lr_, mm, bm}, {total - 1, options.max_lr_, min_lr, bm, mm}};
    }
    for (auto& b : base_lrs_) b = initial;
    apply(0);
}

double OneCycleLR::anneal(double start, double end, double pct) const {
    if (options_.anneal_cos_) return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
    return (end - start) * pct + start;
}

double OneCycleLR::value_at(std::int64_t step, bool momentum) const {
    if (step > options_.total_steps_) {
        throw ValueError("Tried to step " + std::to_string(step) + " times. The specified number of total steps is " +
                         std::to_string(options_.total_steps_));
    }
    double start_step = 0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
        const Phase& ph = phases_[i];
        if (static_cast<double>(step) <= ph.end_step || i + 1 == phases_.size()) {
            const double pct = (static_cast<double>(step) - start_step) / (ph.end_step - start_step);
            return momentum ? anneal(ph.start_m, ph.end_m, pct) : anneal(ph.start_lr, ph.end_lr, pct);
        }
        start_step = ph.end_step;
    }
    return 0.0;
}

double OneCycleLR::lr_at(std::int64_t epoch, std::size_t) const {
    const double lr = value_at(epoch, false);
    if (options_.cycle_momentum_) {
        const double m = value_at(epoch, true);
        for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
            auto fields = optimizer_.group_options(g);
            if (OptionField* f = optimizer_.find_option(fields, "momentum")) *f->number = m;
            else if (OptionField* b = optimizer_.find_option(fields, "beta1")) *b->number = m;
        }
    }
    return lr;
}

double OneCycleLR::momentum_at(std::int64_t epoch) const { return value_at(epoch, true); }

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers, std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
    if (schedulers_.size() != milestones_.size() + 1) {
        throw ValueError("Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone "
                         "points, but got number of schedulers " + std::to_string(schedulers_.size()) +
                         " and the number of milestones to be equal to " + std::to_string(milestones_.size()));
    }
    base_lrs_ = schedulers_.front()->base_lrs();
    apply(0);
}

double SequentialLR::lr_at(std::int64_t epoch, std::size_t g) const {
    const auto idx = static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), epoch) - milestones_.begin());
    const std::int64_t local = idx == 0 ? epoch : epoch - milestones_[idx - 1];
    return schedulers_[idx]->lr_at(local, g);
}

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, Options options)
    : optimizer_(optimizer), options_(options), best_(options.mode_max_ ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity()) {
    if (options.factor_ >= 1.0) throw ValueError("Factor should be < 1.0.");
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
    const double t = options_.threshold_;
    if (!options_.mode_max_) return options_.threshold_abs_ ? a < best - t : a < best * (1 - t);
    return options_.threshold_abs_ ? a > best + t : a > best * (1 + t);
}

void ReduceLROnPlateau::step(double metric) {
    ++last_epoch_;
    if (is_better(metric, best_)) {
        best_ = metric;
        num_bad_epochs_ = 0;
    } else {
        ++num_bad_epochs_;
    }
    if (cooldown_counter_ > 0) {
        --cooldown_counter_;
        num_bad_epochs_ = 0;
    }
    if (num_bad_epochs_ > options_.patience_) {
        for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) {
            const double old_lr = optimizer_.lr(g);
            const double new_lr = std::max(old_lr * options_.factor_, options_.min_lr_);
            if (old_lr - new_lr > options_.eps_) optimizer_.set_lr(new_lr, g);
        }
        cooldown_counter_ = options_.cooldown_;
        num_bad_epochs_ = 0;
    }
}

std::vector<double> ReduceLROnPlateau::get_last_lr() const {
    std::vector<double> lrs;
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
    return lrs;
}

StateDict ReduceLROnPlateau::state_dict() const {
    StateDict sd;
    sd.insert("best", scalar_tensor(best_, kFloat64));
    sd.insert("num_bad_epochs", scalar_tensor(static_cast<double>(num_bad_epochs_), kFloat64));
    sd.insert("cooldown_counter", scalar_tensor(static_cast<double>(cooldown_counter_), kFloat64));
    sd.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), kFloat64));
    return sd;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& sd) {
    const Tensor& best = sd.at("best");
    if (!best.defined() || best.numel() != 1 || std::isnan(best.item<double>())) {
        throw ValueError("ReduceLROnPlateau load_state_dict: 'best' must hold one number");
    }
    const std::int64_t bad = stored_count(sd, "num_bad_epochs", "ReduceLROnPlateau");
    const std::int64_t cooldown = stored_count(sd, "cooldown_counter", "ReduceLROnPlateau");
    const std::int64_t last_epoch = stored_count(sd, "last_epoch", "ReduceLROnPlateau");
    best_ = best.item<double>();
    num_bad_epochs_ = bad;
    cooldown_counter_ = cooldown;
    last_epoch_ = last_epoch;
}

}  // namespace lazynn::optim
