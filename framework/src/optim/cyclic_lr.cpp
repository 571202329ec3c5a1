// The cycling schedulers, CyclicLR and OneCycleLR: closed forms of the step number (as in
// PyTorch), which also move the optimizer's momentum inversely to the lr.
#include <lazynn/optim/lr_scheduler.hpp>

#include <cmath>
#include <numbers>

namespace lazynn::optim {
namespace {

std::vector<double> per_group(std::vector<double> values, std::size_t groups, const char* name, const char* who) {
    if (values.size() == 1 && groups > 1) values.assign(groups, values[0]);
    if (values.size() != groups) {
        throw ValueError(std::string(who) + ": expected " + std::to_string(groups) + " values for " + name + ", got " +
                         std::to_string(values.size()));
    }
    return values;
}

/// PyTorch sets the lrs to base_lr before recording initial_lr; this runs before the base class does.
Optimizer& start_at_base_lr(Optimizer& optimizer, const CyclicLROptions& options) {
    const auto lrs = per_group(options.base_lrs(), optimizer.num_param_groups(), "base_lr", "CyclicLR");
    for (std::size_t g = 0; g < lrs.size(); ++g) optimizer.set_lr(lrs[g], g);
    return optimizer;
}

double* option(Optimizer& optimizer, std::size_t group, const char* name) {
    auto fields = optimizer.group_options(group);
    OptionField* f = optimizer.find_option(fields, name);
    return f ? f->number : nullptr;
}

}  // namespace

// ---------------------------------------------------------------- CyclicLR

CyclicLR::CyclicLR(Optimizer& optimizer, CyclicLROptions options)
    : LRScheduler(start_at_base_lr(optimizer, options)), options_(std::move(options)) {
    const std::size_t n = optimizer.num_param_groups();
    options_.base_lrs() = per_group(options_.base_lrs(), n, "base_lr", "CyclicLR");
    options_.max_lrs() = per_group(options_.max_lrs(), n, "max_lr", "CyclicLR");
    const std::int64_t down = options_.step_size_down().value_or(options_.step_size_up());
    if (options_.step_size_up() <= 0 || down < 0) {
        throw ValueError("CyclicLR: expected step_size_up > 0 and step_size_down >= 0, got " +
                         std::to_string(options_.step_size_up()) + " and " + std::to_string(down));
    }
    total_size_ = static_cast<double>(options_.step_size_up() + down);
    step_ratio_ = static_cast<double>(options_.step_size_up()) / total_size_;
    // PyTorch's rule: without a scale_fn the mode decides what the scale is evaluated on.
    if (!options_.scale_fn()) {
        options_.scale_mode(options_.mode() == CyclicLRMode::ExpRange ? CyclicLRScaleMode::Iterations
                                                                      : CyclicLRScaleMode::Cycle);
    }
    if (options_.cycle_momentum()) {
        for (std::size_t g = 0; g < n; ++g) {
            double* m = option(optimizer, g, "momentum");
            if (!m)
                throw ValueError(
                    "optimizer must support momentum with `cycle_momentum` option enabled (CyclicLR: this optimizer "
                    "has no 'momentum')");
            *m = options_.base_momentum();
            base_momenta_.push_back(*m);
        }
    }
    initial_step();
    base_lrs_ = options_.base_lrs();
}

double CyclicLR::scale(double x) const {
    if (options_.scale_fn()) return options_.scale_fn()(x);
    switch (options_.mode()) {
        case CyclicLRMode::Triangular:
            return 1.0;
        case CyclicLRMode::Triangular2:
            return 1.0 / std::pow(2.0, x - 1);
        case CyclicLRMode::ExpRange:
            return std::pow(options_.gamma(), x);
    }
    return 1.0;
}

std::vector<double> CyclicLR::get_lr() {
    const double e = static_cast<double>(last_epoch_);
    const double cycle = std::floor(1 + e / total_size_);
    const double x = 1.0 + e / total_size_ - cycle;
    const double scale_factor = x <= step_ratio_ ? x / step_ratio_ : (x - 1) / (step_ratio_ - 1);
    const double s =
        scale(options_.scale_mode().value_or(CyclicLRScaleMode::Cycle) == CyclicLRScaleMode::Cycle ? cycle : e);
    std::vector<double> lrs;
    for (std::size_t g = 0; g < groups(); ++g) {
        // base_lrs_, as PyTorch: the initial lrs during the initial step, base_lr afterwards.
        lrs.push_back(base_lrs_[g] + (options_.max_lrs()[g] - base_lrs_[g]) * scale_factor * s);
    }
    if (options_.cycle_momentum()) {
        for (std::size_t g = 0; g < groups(); ++g) {
            const double height = (options_.max_momentum() - base_momenta_[g]) * scale_factor;
            *option(optimizer_, g, "momentum") = options_.max_momentum() - height * s;
        }
    }
    return lrs;
}

// ---------------------------------------------------------------- OneCycleLR

OneCycleLR::OneCycleLR(Optimizer& optimizer, OneCycleOptions options) : LRScheduler(optimizer), options_(options) {
    if (!options.total_steps() && !(options.epochs() && options.steps_per_epoch())) {
        throw ValueError("OneCycleLR: You must define either total_steps OR (epochs AND steps_per_epoch)");
    }
    if (options.total_steps()) {
        if (*options.total_steps() <= 0)
            throw ValueError("OneCycleLR: Expected positive integer total_steps, but got " +
                             std::to_string(*options.total_steps()));
        total_steps_ = *options.total_steps();
    } else {
        if (*options.epochs() <= 0)
            throw ValueError("OneCycleLR: Expected positive integer epochs, but got " +
                             std::to_string(*options.epochs()));
        if (*options.steps_per_epoch() <= 0) {
            throw ValueError("OneCycleLR: Expected positive integer steps_per_epoch, but got " +
                             std::to_string(*options.steps_per_epoch()));
        }
        total_steps_ = *options.epochs() * *options.steps_per_epoch();
    }
    if (!(options.pct_start() >= 0 && options.pct_start() <= 1)) {
        throw ValueError("OneCycleLR: Expected float between 0 and 1 pct_start, but got " +
                         std::to_string(options.pct_start()));
    }
    const double initial = options.max_lr() / options.div_factor();
    const double min_lr = initial / options.final_div_factor();
    const double total = static_cast<double>(total_steps_);
    const double bm = options.base_momentum(), mm = options.max_momentum();
    if (options.three_phase()) {
        phases_ = {{options.pct_start() * total - 1, initial, options.max_lr(), mm, bm},
                   {2 * options.pct_start() * total - 2, options.max_lr(), initial, bm, mm},
                   {total - 1, initial, min_lr, mm, mm}};
    } else {
        phases_ = {{options.pct_start() * total - 1, initial, options.max_lr(), mm, bm},
                   {total - 1, options.max_lr(), min_lr, bm, mm}};
    }
    if (options.cycle_momentum()) {
        // PyTorch cycles "momentum" where the optimizer has it, else beta1 ("betas").
        momentum_name_ = option(optimizer, 0, "momentum") ? "momentum"
                         : option(optimizer, 0, "beta1")  ? "beta1"
                                                          : nullptr;
        if (!momentum_name_) {
            throw ValueError(
                "optimizer must support momentum with `cycle_momentum` option enabled (OneCycleLR: this optimizer has "
                "neither "
                "'momentum' nor betas)");
        }
    }
    // PyTorch overwrites each group's initial_lr: schedulers built later start from it.
    for (std::size_t g = 0; g < groups(); ++g) {
        optimizer.set_initial_lr(g, initial);
        base_lrs_[g] = initial;
    }
    initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
    if (options_.anneal_strategy() == AnnealStrategy::Cos)
        return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1);
    return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lr() {
    if (last_epoch_ > total_steps_) {
        throw ValueError("Tried to step " + std::to_string(last_epoch_ + 1) +
                         " times. The specified number of total steps is " + std::to_string(total_steps_));
    }
    const double step = static_cast<double>(last_epoch_);
    double start_step = 0, lr = 0, momentum = 0;
    for (std::size_t i = 0; i < phases_.size(); ++i) {
        const Phase& ph = phases_[i];
        if (step <= ph.end_step || i + 1 == phases_.size()) {
            const double pct = (step - start_step) / (ph.end_step - start_step);
            lr = anneal(ph.start_lr, ph.end_lr, pct);
            momentum = anneal(ph.start_m, ph.end_m, pct);
            break;
        }
        start_step = ph.end_step;
    }
    if (momentum_name_) {
        for (std::size_t g = 0; g < groups(); ++g) *option(optimizer_, g, momentum_name_) = momentum;
    }
    return std::vector<double>(groups(), lr);
}

}  // namespace lazynn::optim
