#include "mpi_support.hpp"

#include <lazynn/distributed/join.hpp>

#include <exception>

namespace lazynn::distributed {

namespace {

bool has_uninitialized_parameters(Module& module) {
    for (const Parameter& p : module.parameters()) {
        if (p.defined() && p.is_uninitialized()) return true;
    }
    return false;
}

}  // namespace

Join::Join(DistributedDataParallel& ddp, JoinOptions options)
    : ddp_(&ddp), uncaught_at_start_(std::uncaught_exceptions()) {
    if (ddp.join_enabled_) throw ValueError("Join: this DistributedDataParallel is already inside a Join");
    if (!ddp.reducer_) {
        if (has_uninitialized_parameters(ddp.module())) {
            throw ValueError("Join: " + ddp.module().name() +
                             " is still lazy; run one forward through the DistributedDataParallel wrapper (or "
                             "module.initialize(sample)) before the Join, so every rank has materialised it");
        }
        ddp.start();  // initialised by hand after wrapping
    }
    ddp.join_enabled_ = true;
    ddp.join_throw_on_early_termination_ = options.throw_on_early_termination_;
    ddp.join_divide_by_initial_world_size_ = options.divide_by_initial_world_size_;
    ddp.last_authoritative_rank_ = -1;
}

Join::~Join() {
    if (!finished_ && std::uncaught_exceptions() == uncaught_at_start_) {
        try {
            finish();
        } catch (const std::exception& e) {
            abort(std::string("Join could not finish: ") + e.what());
        }
    }
    ddp_->join_enabled_ = false;
}

void Join::finish() {
    if (finished_) return;
    finished_ = true;
    while (ddp_->join_round(false) > 0) ddp_->shadow_step();
    // Joined ranks did not step their optimizers: take the state of a rank that trained to the end.
    if (ddp_->last_authoritative_rank_ >= 0) ddp_->broadcast_states(true, ddp_->last_authoritative_rank_);
    ddp_->join_enabled_ = false;
}

}  // namespace lazynn::distributed
