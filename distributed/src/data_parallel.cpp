#include "mpi_support.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/distributed/data_parallel.hpp>

#include <algorithm>

namespace lazynn::distributed {
namespace {

std::vector<Tensor> module_buffers(Module& module) {
    std::vector<Tensor> result;
    for (const Buffer& b : module.buffers()) {
        if (b.defined() && !b.is_uninitialized()) result.push_back(b);
    }
    return result;
}

bool has_uninitialized_state(Module& module) {
    for (const Parameter& p : module.parameters()) {
        if (p.defined() && p.is_uninitialized()) return true;
    }
    for (const Buffer& b : module.buffers()) {
        if (b.defined() && b.is_uninitialized()) return true;
    }
    return false;
}

/// Names, shapes and dtypes of every parameter and buffer, hashed: equal on all ranks iff the
/// ranks built the same model.
std::int64_t layout_fingerprint(Module& module) {
    detail::Fingerprint fingerprint;
    auto add = [&](const std::string& name, const Tensor& t) {
        fingerprint.add(name);
        fingerprint.add(static_cast<std::uint64_t>(t.dtype()));
        for (std::int64_t d : t.shape()) fingerprint.add(static_cast<std::uint64_t>(d));
    };
    for (const auto& [name, p] : module.named_parameters()) {
        if (p.defined()) add(name, p);
    }
    for (const auto& [name, b] : module.named_buffers()) {
        if (b.defined()) add(name, b);
    }
    return fingerprint.value();
}

}  // namespace

/// Buckets of gradients, reduced as soon as each is complete. Lives on the heap so the hooks it
/// installs on the parameters can hold a stable pointer; removes them when destroyed.
struct DistributedDataParallel::Reducer {
    enum class Mode { Idle, Sync, Local };

    struct Slot {
        Tensor param;
        Tensor view;           // this parameter's place in its bucket, shaped like the parameter
        std::size_t bucket = 0;
        bool ready = false;
        std::uint64_t hook = 0;
    };
    struct Bucket {
        Tensor flat;
        std::size_t size = 0;  // slots in this bucket
        std::size_t pending = 0;
        bool launched = false;
        Work work;
    };

    std::vector<Slot> slots;
    std::vector<Bucket> buckets;
    Mode mode = Mode::Idle;
    bool callback_queued = false;
    std::size_t next_to_launch = 0;
    std::size_t bytes = 0;

    Reducer(Module& module, double bucket_cap_mb) {
        std::vector<Tensor> params;
        for (const Parameter& p : module.parameters()) {
            if (p.defined() && p.requires_grad()) params.push_back(p);
        }
        // Backward produces gradients roughly from the last layer to the first.
        std::reverse(params.begin(), params.end());
        const auto cap = static_cast<std::size_t>(bucket_cap_mb * 1024 * 1024);
        for (Dtype dtype : {kFloat32, kFloat64}) {
            std::vector<std::size_t> members;
            std::size_t member_bytes = 0;
            auto close_bucket = [&] {
                if (members.empty()) return;
                std::int64_t total = 0;
                for (std::size_t i : members) total += params[i].numel();
                Bucket bucket;
                bucket.flat = zeros({total}, TensorOptions().dtype(dtype));
                bucket.size = bucket.pending = members.size();
                std::int64_t offset = 0;
                for (std::size_t i : members) {
                    Slot slot;
                    slot.param = params[i];
                    slot.view = bucket.flat.narrow(0, offset, params[i].numel()).view(params[i].shape());
                    slot.bucket = buckets.size();
                    offset += params[i].numel();
                    slots.push_back(std::move(slot));
                }
                bytes += static_cast<std::size_t>(total) * dtype_size(dtype);
                buckets.push_back(std::move(bucket));
                members.clear();
                member_bytes = 0;
            };
            for (std::size_t i = 0; i < params.size(); ++i) {
                if (params[i].dtype() != dtype) continue;
                members.push_back(i);
                member_bytes += static_cast<std::size_t>(params[i].numel()) * dtype_size(dtype);
                if (member_bytes >= cap) close_bucket();
            }
            close_bucket();
        }
        for (std::size_t i = 0; i < slots.size(); ++i) {
            slots[i].hook = slots[i].param.register_post_accumulate_grad_hook([this, i](const Tensor&) { on_gradient(i); });
        }
    }

    ~Reducer() {
        for (Slot& slot : slots) slot.param.remove_post_accumulate_grad_hook(slot.hook);
    }
    Reducer(const Reducer&) = delete;
    Reducer& operator=(const Reducer&) = delete;

    void on_gradient(std::size_t index) {
        if (mode == Mode::Local) return;
        if (mode == Mode::Idle) {
            throw RuntimeError(
                "DistributedDataParallel: a backward reached the model's parameters without a forward through the "
                "wrapper since the last synchronised backward; run ddp(input) before every backward, or accumulate "
                "several backwards inside ddp.no_sync()");
        }
        if (!callback_queued) {
            autograd::queue_callback([this] { finish_backward(); });
            callback_queued = true;
        }
        Slot& slot = slots[index];
        slot.view.copy_(slot.param.grad());
        slot.ready = true;
        if (--buckets[slot.bucket].pending == 0) launch_ready_buckets();
        // Give MPI a chance to progress buckets already in flight.
        for (std::size_t b = 0; b < next_to_launch; ++b) buckets[b].work.is_completed();
    }

    /// Launches complete buckets strictly in index order, so every rank issues the same
    /// collectives in the same sequence whatever order its gradients arrived in.
    void launch_ready_buckets() {
        while (next_to_launch < buckets.size() && buckets[next_to_launch].pending == 0) {
            Bucket& bucket = buckets[next_to_launch++];
            bucket.work = detail::start_all_reduce(bucket.flat, ReduceOp::Mean);
            bucket.launched = true;
        }
    }

    void finish_backward() {
        // Parameters this backward did not reach contribute zeros.
        for (Slot& slot : slots) {
            if (!slot.ready && !buckets[slot.bucket].launched) {
                slot.view.zero_();
                slot.ready = true;
                --buckets[slot.bucket].pending;
            }
        }
        launch_ready_buckets();
        for (Bucket& bucket : buckets) bucket.work.wait();
        for (Slot& slot : slots) {
            const Tensor grad = slot.param.grad();
            if (grad.defined()) {
                grad.detach().copy_(slot.view);
            } else {
                slot.param.set_grad(slot.view.clone());
            }
            slot.ready = false;
        }
        for (Bucket& bucket : buckets) {
            bucket.pending = bucket.size;
            bucket.launched = false;
        }
        next_to_launch = 0;
        callback_queued = false;
        mode = Mode::Idle;
    }
};

DistributedDataParallel::DistributedDataParallel(Module& module, DistributedDataParallelOptions options)
    : module_(&module), options_(options) {
    detail::require_initialized("DistributedDataParallel");
    if (!(options_.bucket_cap_mb_ > 0)) {
        throw ValueError("DistributedDataParallel: bucket_cap_mb must be positive, got " + std::to_string(options_.bucket_cap_mb_));
    }
}

DistributedDataParallel::~DistributedDataParallel() = default;
DistributedDataParallel::DistributedDataParallel(DistributedDataParallel&&) noexcept = default;
DistributedDataParallel& DistributedDataParallel::operator=(DistributedDataParallel&&) noexcept = default;

Tensor DistributedDataParallel::operator()(const Tensor& input) {
    prepare_forward([&] { (*module_)(input); });
    return (*module_)(input);
}

Tensor DistributedDataParallel::forward(const std::function<Tensor()>& run) {
    prepare_forward([&] { run(); });
    return run();
}

void DistributedDataParallel::prepare_forward(const std::function<void()>& materialising_pass) {
    if (!reducer_) {
        if (has_uninitialized_state(*module_)) {
            // Materialise from the real input without touching running statistics or dropout.
            const bool was_training = module_->is_training();
            module_->eval();
            {
                NoGradGuard no_grad;
                materialising_pass();
            }
            module_->train(was_training);
            if (has_uninitialized_state(*module_)) {
                throw ValueError("DistributedDataParallel: " + module_->name() +
                                 " still has uninitialized parameters after a forward; every lazy module must be "
                                 "reached by the forward before training");
            }
        }
        detail::verify_same_fingerprint(layout_fingerprint(*module_),
                                        "DistributedDataParallel: the model's parameters and buffers differ across ranks "
                                        "(names, shapes or dtypes); every rank must build the same model");
        sync_module_states();
        reducer_ = std::make_unique<Reducer>(*module_, options_.bucket_cap_mb_);
    } else if (options_.broadcast_buffers_ && is_grad_enabled() && sync_enabled_) {
        sync_buffers();
    }
    if (is_grad_enabled()) reducer_->mode = sync_enabled_ ? Reducer::Mode::Sync : Reducer::Mode::Local;
}

void DistributedDataParallel::sync_buffers() {
    if (world_size() > 1) detail::broadcast_coalesced(module_buffers(*module_), 0);
}

void DistributedDataParallel::sync_module_states() {
    if (world_size() == 1) return;
    std::vector<Tensor> states;
    for (const Parameter& p : module_->parameters()) {
        if (p.defined()) states.push_back(p);
    }
    for (const Tensor& b : module_buffers(*module_)) states.push_back(b);
    detail::broadcast_coalesced(states, 0);
}

std::size_t DistributedDataParallel::num_buckets() const { return reducer_ ? reducer_->buckets.size() : 0; }
std::size_t DistributedDataParallel::gradient_bytes() const { return reducer_ ? reducer_->bytes : 0; }

DistributedDataParallel::NoSync::NoSync(DistributedDataParallel& ddp) : ddp_(&ddp), previous_(ddp.sync_enabled_) {
    ddp.sync_enabled_ = false;
}

DistributedDataParallel::NoSync::~NoSync() { ddp_->sync_enabled_ = previous_; }

}  // namespace lazynn::distributed
