// The scheduler base (PyTorch's _LRScheduler: initial step, chainable step, state) and the
// schedulers that are one formula each. Each get_lr() is PyTorch 1.13's: most adjust the
// optimizer's current lr, which is what lets several schedulers compose.
#include "scheduler_state.hpp"

#include <lazynn/optim/lr_scheduler.hpp>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace lazynn::optim {

// ---------------------------------------------------------------- base

LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
    for (std::size_t g = 0; g < optimizer.num_param_groups(); ++g) base_lrs_.push_back(optimizer.initial_lr(g));
    last_lr_ = current_lrs();
}

std::vector<double> LRScheduler::current_lrs() const {
    std::vector<double> lrs;
    for (std::size_t g = 0; g < optimizer_.num_param_groups(); ++g) lrs.push_back(optimizer_.lr(g));
    return lrs;
}

void LRScheduler::apply(const std::vector<double>& lrs) {
    for (std::size_t g = 0; g < lrs.size(); ++g) optimizer_.set_lr(lrs[g], g);
    last_lr_ = current_lrs();
}

void LRScheduler::initial_step() {
    step_count_ = 0;
    step();
}

void LRScheduler::step() {
    ++step_count_;
    ++last_epoch_;
    apply(get_lr());
}

void LRScheduler::step_to(std::int64_t epoch) {
    if (epoch < 0) throw ValueError("LRScheduler step_to: expected a non-negative epoch, got " + std::to_string(epoch));
    ++step_count_;
    last_epoch_ = epoch;
    apply(closed_form_lr());
}

StateDict LRScheduler::state_dict() const {
    StateDict sd;
    sd.insert("last_epoch", scalar_tensor(static_cast<double>(last_epoch_), kFloat64));
    sd.insert("step_count", scalar_tensor(static_cast<double>(step_count_), kFloat64));
    sd.insert("base_lrs", tensor(base_lrs_, {static_cast<std::int64_t>(base_lrs_.size())}, kFloat64));
    sd.insert("last_lr", tensor(last_lr_, {static_cast<std::int64_t>(last_lr_.size())}, kFloat64));
    return sd;
}

void LRScheduler::load_state_dict(const StateDict& state) {
    const std::int64_t last_epoch = detail::stored_count(state, "last_epoch", "LRScheduler");
    if (last_epoch < -1)
        throw ValueError("LRScheduler load_state_dict: 'last_epoch' must not be below -1, got " +
                         std::to_string(last_epoch));
    // step_count and last_lr arrived with chaining; checkpoints from before lack them.
    const std::int64_t step_count =
        state.contains("step_count") ? detail::stored_count(state, "step_count", "LRScheduler") : last_epoch + 1;
    std::vector<double> base_lrs = detail::stored_lrs(state, "base_lrs", groups(), "LRScheduler");
    std::vector<double> last_lr =
        state.contains("last_lr") ? detail::stored_lrs(state, "last_lr", groups(), "LRScheduler") : current_lrs();
    last_epoch_ = last_epoch;
    step_count_ = step_count;
    base_lrs_ = std::move(base_lrs);
    last_lr_ = std::move(last_lr);
}

// ---------------------------------------------------------------- StepLR

StepLR::StepLR(Optimizer& optimizer, std::int64_t step_size, double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
    if (step_size <= 0) throw ValueError("StepLR: step_size must be positive, got " + std::to_string(step_size));
    initial_step();
}
std::vector<double> StepLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
    for (double& lr : lrs) lr *= gamma_;
    return lrs;
}
std::vector<double> StepLR::closed_form_lr() {
    std::vector<double> lrs;
    const std::int64_t decays = last_epoch_ / step_size_;  // PyTorch: gamma ** (last_epoch // step_size)
    for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(decays)));
    return lrs;
}

// ---------------------------------------------------------------- MultiStepLR

MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<std::int64_t> milestones, double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
    std::sort(milestones_.begin(), milestones_.end());
    initial_step();  // a milestone at 0 applies here, as in PyTorch
}
std::vector<double> MultiStepLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
    if (hits == 0) return lrs;
    for (double& lr : lrs) lr *= std::pow(gamma_, static_cast<double>(hits));
    return lrs;
}
std::vector<double> MultiStepLR::closed_form_lr() {
    const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) - milestones_.begin();
    std::vector<double> lrs;
    for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(passed)));
    return lrs;
}

// ---------------------------------------------------------------- ConstantLR

ConstantLR::ConstantLR(Optimizer& optimizer, double factor, std::int64_t total_iters)
    : LRScheduler(optimizer), factor_(factor), total_iters_(total_iters) {
    if (!(factor >= 0 && factor <= 1))
        throw ValueError("Constant multiplicative factor expected to be between 0 and 1. (ConstantLR got " +
                         std::to_string(factor) + ")");
    initial_step();
}
std::vector<double> ConstantLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    if (last_epoch_ == 0) {
        for (double& lr : lrs) lr *= factor_;
    } else if (last_epoch_ == total_iters_) {
        for (double& lr : lrs) lr *= 1.0 / factor_;
    }
    return lrs;
}
std::vector<double> ConstantLR::closed_form_lr() {
    std::vector<double> lrs;
    for (double base : base_lrs_) lrs.push_back(base * (factor_ + (last_epoch_ >= total_iters_ ? 1.0 - factor_ : 0.0)));
    return lrs;
}

// ---------------------------------------------------------------- LinearLR

LinearLR::LinearLR(Optimizer& optimizer, double start_factor, double end_factor, std::int64_t total_iters)
    : LRScheduler(optimizer), start_(start_factor), end_(end_factor), total_iters_(total_iters) {
    // Stricter than 1.13 at 0 (its recursion then divides by zero), as PyTorch 2.x is.
    if (!(start_factor > 0 && start_factor <= 1)) {
        throw ValueError(
            "LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1.");
    }
    if (!(end_factor >= 0 && end_factor <= 1))
        throw ValueError("LinearLR: Ending multiplicative factor expected to be between 0 and 1.");
    initial_step();
}
std::vector<double> LinearLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    if (last_epoch_ == 0) {
        for (double& lr : lrs) lr *= start_;
    } else if (last_epoch_ <= total_iters_) {
        const double ratio = 1.0 + (end_ - start_) / (static_cast<double>(total_iters_) * start_ +
                                                      static_cast<double>(last_epoch_ - 1) * (end_ - start_));
        for (double& lr : lrs) lr *= ratio;
    }
    return lrs;
}
std::vector<double> LinearLR::closed_form_lr() {
    // total_iters 0: the factor stays start_factor (PyTorch's recursion never reaches its division).
    const double progress = total_iters_ <= 0 ? 0.0
                                              : static_cast<double>(std::min(total_iters_, last_epoch_)) /
                                                    static_cast<double>(total_iters_);
    std::vector<double> lrs;
    for (double base : base_lrs_) lrs.push_back(base * (start_ + (end_ - start_) * progress));
    return lrs;
}

// ---------------------------------------------------------------- ExponentialLR

ExponentialLR::ExponentialLR(Optimizer& optimizer, double gamma) : LRScheduler(optimizer), gamma_(gamma) {
    initial_step();
}
std::vector<double> ExponentialLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    if (last_epoch_ == 0) return lrs;
    for (double& lr : lrs) lr *= gamma_;
    return lrs;
}
std::vector<double> ExponentialLR::closed_form_lr() {
    std::vector<double> lrs;
    for (double base : base_lrs_) lrs.push_back(base * std::pow(gamma_, static_cast<double>(last_epoch_)));
    return lrs;
}

// ---------------------------------------------------------------- PolynomialLR

PolynomialLR::PolynomialLR(Optimizer& optimizer, std::int64_t total_iters, double power)
    : LRScheduler(optimizer), total_iters_(total_iters), power_(power) {
    if (total_iters < 0)
        throw ValueError("PolynomialLR: total_iters must not be negative, got " + std::to_string(total_iters));
    initial_step();
}
std::vector<double> PolynomialLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    if (last_epoch_ == 0 || last_epoch_ > total_iters_) return lrs;
    const double n = static_cast<double>(total_iters_), e = static_cast<double>(last_epoch_);
    const double decay = std::pow((1.0 - e / n) / (1.0 - (e - 1) / n), power_);
    for (double& lr : lrs) lr *= decay;
    return lrs;
}
std::vector<double> PolynomialLR::closed_form_lr() {
    const double progress = total_iters_ == 0 ? 1.0
                                              : static_cast<double>(std::min(total_iters_, last_epoch_)) /
                                                    static_cast<double>(total_iters_);
    std::vector<double> lrs;
    for (double base : base_lrs_) lrs.push_back(base * std::pow(1.0 - progress, power_));
    return lrs;
}

// ---------------------------------------------------------------- CosineAnnealingLR

CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, std::int64_t t_max, double eta_min)
    : LRScheduler(optimizer), t_max_(t_max), eta_min_(eta_min) {
    if (t_max <= 0) throw ValueError("CosineAnnealingLR: T_max must be positive, got " + std::to_string(t_max));
    initial_step();
}
std::vector<double> CosineAnnealingLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    const double pi = std::numbers::pi, t = static_cast<double>(t_max_), e = static_cast<double>(last_epoch_);
    if (last_epoch_ == 0) return lrs;
    if (step_count_ == 1 && last_epoch_ > 0) return closed_form_lr();
    for (std::size_t g = 0; g < lrs.size(); ++g) {
        if ((last_epoch_ - 1 - t_max_) % (2 * t_max_) == 0) {
            // The bottom of a cycle, where the ratio below would divide by zero.
            lrs[g] += (base_lrs_[g] - eta_min_) * (1 - std::cos(pi / t)) / 2;
        } else {
            lrs[g] = (1 + std::cos(pi * e / t)) / (1 + std::cos(pi * (e - 1) / t)) * (lrs[g] - eta_min_) + eta_min_;
        }
    }
    return lrs;
}
std::vector<double> CosineAnnealingLR::closed_form_lr() {
    std::vector<double> lrs;
    const double c = std::cos(std::numbers::pi * static_cast<double>(last_epoch_) / static_cast<double>(t_max_));
    for (double base : base_lrs_) lrs.push_back(eta_min_ + (base - eta_min_) * (1 + c) / 2);
    return lrs;
}

// ---------------------------------------------------------------- LambdaLR, MultiplicativeLR

namespace {

template <class Lambda>
std::vector<Lambda> per_group(std::vector<Lambda> lambdas, std::size_t groups, const char* who) {
    if (lambdas.size() != groups) {
        throw ValueError(std::string(who) + ": Expected " + std::to_string(groups) + " lr_lambdas, but got " +
                         std::to_string(lambdas.size()));
    }
    for (const auto& fn : lambdas) {
        if (!fn) throw ValueError(std::string(who) + ": an lr_lambda is empty");
    }
    return lambdas;
}

}  // namespace

LambdaLR::LambdaLR(Optimizer& optimizer, const Lambda& lambda)
    : LambdaLR(optimizer, std::vector<Lambda>(optimizer.num_param_groups(), lambda)) {}
LambdaLR::LambdaLR(Optimizer& optimizer, std::vector<Lambda> lambdas)
    : LRScheduler(optimizer), lambdas_(per_group(std::move(lambdas), optimizer.num_param_groups(), "LambdaLR")) {
    initial_step();
}
std::vector<double> LambdaLR::get_lr() {
    std::vector<double> lrs;
    for (std::size_t g = 0; g < groups(); ++g) lrs.push_back(base_lrs_[g] * lambdas_[g](last_epoch_));
    return lrs;
}

MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, const Lambda& lambda)
    : MultiplicativeLR(optimizer, std::vector<Lambda>(optimizer.num_param_groups(), lambda)) {}
MultiplicativeLR::MultiplicativeLR(Optimizer& optimizer, std::vector<Lambda> lambdas)
    : LRScheduler(optimizer),
      lambdas_(per_group(std::move(lambdas), optimizer.num_param_groups(), "MultiplicativeLR")) {
    initial_step();
}
std::vector<double> MultiplicativeLR::get_lr() {
    std::vector<double> lrs = current_lrs();
    if (last_epoch_ > 0) {
        for (std::size_t g = 0; g < lrs.size(); ++g) lrs[g] *= lambdas_[g](last_epoch_);
    }
    return lrs;
}

// ---------------------------------------------------------------- CosineAnnealingWarmRestarts

CosineAnnealingWarmRestarts::CosineAnnealingWarmRestarts(Optimizer& optimizer, std::int64_t t_0, std::int64_t t_mult,
                                                         double eta_min)
    : LRScheduler(optimizer),
      t_0_(t_0),
      t_mult_(t_mult),
      eta_min_(eta_min),
      t_i_(static_cast<double>(t_0)),
      t_cur_(-1) {
    if (t_0 <= 0)
        throw ValueError("CosineAnnealingWarmRestarts: Expected positive integer T_0, but got " + std::to_string(t_0));
    if (t_mult < 1)
        throw ValueError("CosineAnnealingWarmRestarts: Expected integer T_mult >= 1, but got " +
                         std::to_string(t_mult));
    initial_step();
}

std::vector<double> CosineAnnealingWarmRestarts::get_lr() {
    std::vector<double> lrs;
    for (double base : base_lrs_)
        lrs.push_back(eta_min_ + (base - eta_min_) * (1 + std::cos(std::numbers::pi * t_cur_ / t_i_)) / 2);
    return lrs;
}

void CosineAnnealingWarmRestarts::step() {
    if (last_epoch_ < 0) return step(0.0);
    ++last_epoch_;
    t_cur_ += 1;
    if (t_cur_ >= t_i_) {
        t_cur_ -= t_i_;
        t_i_ *= static_cast<double>(t_mult_);
    }
    apply(get_lr());
}

void CosineAnnealingWarmRestarts::step(double epoch) {
    if (!(epoch >= 0))
        throw ValueError("CosineAnnealingWarmRestarts: Expected non-negative epoch, but got " + std::to_string(epoch));
    const double t0 = static_cast<double>(t_0_), tm = static_cast<double>(t_mult_);
    if (epoch >= t0) {
        if (t_mult_ == 1) {
            t_cur_ = std::fmod(epoch, t0);
        } else {
            // Which restart `epoch` falls in: the n with T_0 (T_mult^n - 1) / (T_mult - 1) <= epoch.
            const double n = std::trunc(std::log(epoch / t0 * (tm - 1) + 1) / std::log(tm));
            t_cur_ = epoch - t0 * (std::pow(tm, n) - 1) / (tm - 1);
            t_i_ = t0 * std::pow(tm, n);
        }
    } else {
        t_i_ = t0;
        t_cur_ = epoch;
    }
    last_epoch_ = static_cast<std::int64_t>(std::floor(epoch));
    apply(get_lr());
}

StateDict CosineAnnealingWarmRestarts::state_dict() const {
    StateDict sd = LRScheduler::state_dict();
    sd.insert("T_cur", scalar_tensor(t_cur_, kFloat64));
    sd.insert("T_i", scalar_tensor(t_i_, kFloat64));
    return sd;
}

void CosineAnnealingWarmRestarts::load_state_dict(const StateDict& state) {
    const double t_cur = detail::stored_number(state, "T_cur", "CosineAnnealingWarmRestarts");
    const double t_i = detail::stored_number(state, "T_i", "CosineAnnealingWarmRestarts");
    if (!(t_i > 0))
        throw ValueError("CosineAnnealingWarmRestarts load_state_dict: 'T_i' must be positive, got " +
                         std::to_string(t_i));
    LRScheduler::load_state_dict(state);
    t_cur_ = t_cur;
    t_i_ = t_i;
}

}  // namespace lazynn::optim
