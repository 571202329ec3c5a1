// Schedulers made of schedulers: SequentialLR (one after another, at milestones) and
// ChainedScheduler (all together). Their state nests each part's under "schedulers.{i}.".
#include "scheduler_state.hpp"

#include <lazynn/optim/lr_scheduler.hpp>

#include <algorithm>

namespace lazynn::optim {
namespace {

Optimizer& optimizer_of(const std::vector<std::shared_ptr<LRScheduler>>& schedulers, const char* who) {
    if (schedulers.empty()) throw ValueError(std::string(who) + " expects at least one scheduler, got none");
    for (std::size_t i = 0; i < schedulers.size(); ++i) {
        if (!schedulers[i]) throw ValueError(std::string(who) + ": scheduler " + std::to_string(i) + " is null");
        if (&schedulers[i]->optimizer() != &schedulers[0]->optimizer()) {
            throw ValueError(
                std::string(who) +
                " expects all schedulers to belong to the same optimizer, but got schedulers at index 0 and " +
                std::to_string(i) + " to be different");
        }
    }
    return schedulers[0]->optimizer();
}

void nest(StateDict& out, const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
    for (std::size_t i = 0; i < schedulers.size(); ++i) {
        for (const auto& [key, value] : schedulers[i]->state_dict())
            out.insert("schedulers." + std::to_string(i) + "." + key, value);
    }
}

void load_nested(const StateDict& state, const std::vector<std::shared_ptr<LRScheduler>>& schedulers) {
    for (std::size_t i = 0; i < schedulers.size(); ++i)
        schedulers[i]->load_state_dict(detail::sub_state(state, "schedulers." + std::to_string(i) + "."));
}

}  // namespace

// ---------------------------------------------------------------- SequentialLR

SequentialLR::SequentialLR(Optimizer& optimizer, std::vector<std::shared_ptr<LRScheduler>> schedulers,
                           std::vector<std::int64_t> milestones)
    : LRScheduler(optimizer), schedulers_(std::move(schedulers)), milestones_(std::move(milestones)) {
    if (&optimizer_of(schedulers_, "Sequential Schedulers") != &optimizer) {
        throw ValueError(
            "Sequential Schedulers expects all schedulers to belong to the same optimizer, but got schedulers at index "
            "0 to be "
            "different than the optimizer passed in.");
    }
    if (schedulers_.size() != milestones_.size() + 1) {
        throw ValueError(
            "Sequential Schedulers expects number of schedulers provided to be one more than the number of milestone "
            "points, but got number of schedulers " +
            std::to_string(schedulers_.size()) + " and the number of milestones to be equal to " +
            std::to_string(milestones_.size()));
    }
    // As PyTorch: back to the initial lrs, undo every part's initial step, and redo the first's.
    last_epoch_ = 0;
    for (std::size_t g = 0; g < groups(); ++g) optimizer.set_lr(optimizer.initial_lr(g), g);
    for (auto& s : schedulers_) s->last_epoch_ -= 1;
    schedulers_[0]->initial_step();
    last_lr_ = schedulers_[0]->get_last_lr();
}

void SequentialLR::step() {
    ++last_epoch_;
    const auto idx = static_cast<std::size_t>(std::upper_bound(milestones_.begin(), milestones_.end(), last_epoch_) -
                                              milestones_.begin());
    LRScheduler& s = *schedulers_[idx];
    if (idx > 0 && milestones_[idx - 1] == last_epoch_)
        s.step_to(0);
    else
        s.step();
    last_lr_ = s.get_last_lr();
}

StateDict SequentialLR::state_dict() const {
    StateDict sd = LRScheduler::state_dict();
    nest(sd, schedulers_);
    return sd;
}

void SequentialLR::load_state_dict(const StateDict& state) {
    LRScheduler::load_state_dict(state);
    load_nested(state, schedulers_);
}

// ---------------------------------------------------------------- ChainedScheduler

ChainedScheduler::ChainedScheduler(std::vector<std::shared_ptr<LRScheduler>> schedulers)
    : LRScheduler(optimizer_of(schedulers, "ChainedScheduler")), schedulers_(std::move(schedulers)) {
    // No initial step: each part took its own when it was built.
    last_epoch_ = 0;
    last_lr_ = current_lrs();
}

void ChainedScheduler::step() {
    ++last_epoch_;
    for (auto& s : schedulers_) s->step();
    last_lr_ = current_lrs();
}

void ChainedScheduler::step_to(std::int64_t epoch) {
    last_epoch_ = epoch;
    for (auto& s : schedulers_) s->step_to(epoch);
    last_lr_ = current_lrs();
}

StateDict ChainedScheduler::state_dict() const {
    StateDict sd = LRScheduler::state_dict();
    nest(sd, schedulers_);
    return sd;
}

void ChainedScheduler::load_state_dict(const StateDict& state) {
    LRScheduler::load_state_dict(state);
    load_nested(state, schedulers_);
}

}  // namespace lazynn::optim
