// ReduceLROnPlateau: cuts the lr when a metric stalls (PyTorch's rules for mode, threshold,
// patience and cooldown). It multiplies the current lr, so it composes with other schedulers.
#include "scheduler_state.hpp"

#include <lazynn/optim/lr_scheduler.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace lazynn::optim {

ReduceLROnPlateau::ReduceLROnPlateau(Optimizer& optimizer, Options options)
    : LRScheduler(optimizer),
      options_(options),
      best_(options.mode() == PlateauMode::Max ? -std::numeric_limits<double>::infinity()
                                               : std::numeric_limits<double>::infinity()) {
    if (!(options.factor() < 1.0))
        throw ValueError("Factor should be < 1.0. (ReduceLROnPlateau got " + std::to_string(options.factor()) + ")");
    min_lrs_ = options.min_lrs();
    if (min_lrs_.size() == 1) min_lrs_.assign(groups(), min_lrs_[0]);
    if (min_lrs_.size() != groups()) {
        throw ValueError("ReduceLROnPlateau: expected " + std::to_string(groups()) + " min_lrs, got " +
                         std::to_string(options.min_lrs().size()));
    }
    last_epoch_ = 0;  // no initial step: PyTorch's plateau starts at epoch 0 and leaves the lr alone
}

bool ReduceLROnPlateau::is_better(double a, double best) const {
    const double t = options_.threshold();
    const bool absolute = options_.threshold_mode() == ThresholdMode::Abs;
    if (options_.mode() == PlateauMode::Min) return absolute ? a < best - t : a < best * (1 - t);
    return absolute ? a > best + t : a > best * (1 + t);
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
        num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
    }
    if (num_bad_epochs_ > options_.patience()) {
        for (std::size_t g = 0; g < groups(); ++g) {
            const double old_lr = optimizer_.lr(g);
            const double new_lr = std::max(old_lr * options_.factor(), min_lrs_[g]);
            if (old_lr - new_lr > options_.eps()) optimizer_.set_lr(new_lr, g);
        }
        cooldown_counter_ = options_.cooldown();
        num_bad_epochs_ = 0;
    }
    last_lr_ = current_lrs();
}

void ReduceLROnPlateau::step() { throw ValueError("ReduceLROnPlateau: step() needs the metric; call step(metric)"); }
void ReduceLROnPlateau::step_to(std::int64_t) {
    throw ValueError("ReduceLROnPlateau: step_to() has no meaning; call step(metric)");
}

StateDict ReduceLROnPlateau::state_dict() const {
    StateDict sd = LRScheduler::state_dict();
    sd.insert("best", scalar_tensor(best_, kFloat64));
    sd.insert("num_bad_epochs", scalar_tensor(static_cast<double>(num_bad_epochs_), kFloat64));
    sd.insert("cooldown_counter", scalar_tensor(static_cast<double>(cooldown_counter_), kFloat64));
    return sd;
}

void ReduceLROnPlateau::load_state_dict(const StateDict& sd) {
    const Tensor& best = sd.at("best");
    // best is +-inf until the first metric arrives; only NaN is refused.
    if (!best.defined() || is_lazy(best) || best.numel() != 1 || std::isnan(best.item<double>())) {
        throw ValueError("ReduceLROnPlateau load_state_dict: 'best' must hold one number");
    }
    const std::int64_t bad = detail::stored_count(sd, "num_bad_epochs", "ReduceLROnPlateau");
    const std::int64_t cooldown = detail::stored_count(sd, "cooldown_counter", "ReduceLROnPlateau");
    const std::int64_t last_epoch = detail::stored_count(sd, "last_epoch", "ReduceLROnPlateau");
    if (bad < 0 || cooldown < 0 || last_epoch < 0)
        throw ValueError("ReduceLROnPlateau load_state_dict: counters must not be negative");
    // Checkpoints of the sample trainers written before the plateau was an LRScheduler lack base_lrs.
    if (sd.contains("base_lrs")) LRScheduler::load_state_dict(sd);
    best_ = best.item<double>();
    num_bad_epochs_ = bad;
    cooldown_counter_ = cooldown;
    last_epoch_ = last_epoch;
}

namespace {

template <class Enum, std::size_t N>
Enum parse_choice(const std::string& name, const char* what,
                  const std::array<std::pair<const char*, Enum>, N>& choices) {
    std::string accepted;
    for (const auto& [text, value] : choices) {
        if (name == text) return value;
        accepted += (accepted.empty() ? "'" : ", '") + std::string(text) + "'";
    }
    throw ValueError(std::string(what) + " must be one of " + accepted + ", got '" + name + "'");
}

}  // namespace

const char* to_string(PlateauMode mode) { return mode == PlateauMode::Max ? "max" : "min"; }
const char* to_string(ThresholdMode mode) { return mode == ThresholdMode::Abs ? "abs" : "rel"; }
const char* to_string(CyclicLRMode mode) {
    switch (mode) {
        case CyclicLRMode::Triangular:
            return "triangular";
        case CyclicLRMode::Triangular2:
            return "triangular2";
        case CyclicLRMode::ExpRange:
            return "exp_range";
    }
    return "?";
}
const char* to_string(CyclicLRScaleMode mode) { return mode == CyclicLRScaleMode::Iterations ? "iterations" : "cycle"; }
const char* to_string(AnnealStrategy strategy) { return strategy == AnnealStrategy::Linear ? "linear" : "cos"; }

PlateauMode parse_plateau_mode(const std::string& name) {
    return parse_choice<PlateauMode, 2>(name, "mode", {{{"min", PlateauMode::Min}, {"max", PlateauMode::Max}}});
}
ThresholdMode parse_threshold_mode(const std::string& name) {
    return parse_choice<ThresholdMode, 2>(name, "threshold_mode",
                                          {{{"rel", ThresholdMode::Rel}, {"abs", ThresholdMode::Abs}}});
}
CyclicLRMode parse_cyclic_lr_mode(const std::string& name) {
    return parse_choice<CyclicLRMode, 3>(name, "mode",
                                         {{{"triangular", CyclicLRMode::Triangular},
                                           {"triangular2", CyclicLRMode::Triangular2},
                                           {"exp_range", CyclicLRMode::ExpRange}}});
}
AnnealStrategy parse_anneal_strategy(const std::string& name) {
    return parse_choice<AnnealStrategy, 2>(name, "anneal_strategy",
                                           {{{"cos", AnnealStrategy::Cos}, {"linear", AnnealStrategy::Linear}}});
}

}  // namespace lazynn::optim
