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

/// One line per parameter and buffer: "parameter<TAB>fc1.weight<TAB>[8, 5]<TAB>float32".
std::vector<std::string> layout_lines(Module& module) {
    std::vector<std::string> lines;
    auto add = [&](const char* kind, const std::string& name, const Tensor& t) {
        lines.push_back(std::string(kind) + "\t" + name + "\t" + shape_to_list(t.shape()) + "\t" +
                        dtype_name(t.dtype()));
    };
    for (const auto& [name, p] : module.named_parameters()) {
        if (p.defined()) add("parameter", name, p);
    }
    for (const auto& [name, b] : module.named_buffers()) {
        if (b.defined()) add("buffer", name, b);
    }
    return lines;
}

std::vector<std::string> split(const std::string& text, char separator) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(separator, start), text.size());
        parts.push_back(text.substr(start, end - start));
        start = end + 1;
    }
    return parts;
}

/// "parameter 'fc1.weight' ([8, 5] float32)"
std::string describe_entry(const std::string& line) {
    const auto f = split(line, '\t');
    if (f.size() < 4) return line;
    return f[0] + " '" + f[1] + "' (" + f[2] + " " + f[3] + ")";
}

/// How rank `other`'s model first differs from rank 0's.
std::string first_difference(const std::vector<std::string>& reference, const std::vector<std::string>& lines,
                             int other) {
    const std::string here = "rank " + std::to_string(other);
    for (std::size_t i = 0; i < std::max(reference.size(), lines.size()); ++i) {
        if (i >= lines.size()) return "rank 0 has " + describe_entry(reference[i]) + " where " + here + "'s model ends";
        if (i >= reference.size()) return here + " has " + describe_entry(lines[i]) + " where rank 0's model ends";
        if (reference[i] == lines[i]) continue;
        const auto a = split(reference[i], '\t');
        const auto b = split(lines[i], '\t');
        if (a.size() >= 4 && b.size() >= 4 && a[0] == b[0] && a[1] == b[1]) {
            return a[0] + " '" + a[1] + "' is " + a[2] + " " + a[3] + " on rank 0 but " + b[2] + " " + b[3] + " on " +
                   here;
        }
        return "entry " + std::to_string(i) + " is " + describe_entry(reference[i]) + " on rank 0 but " +
               describe_entry(lines[i]) + " on " + here;
    }
    return here + " differs";
}

/// Throws DistributedError on every rank, naming the first difference, unless every rank built a
/// model with the same parameter and buffer names, shapes and dtypes.
void verify_same_layout(Module& module, detail::Group& group) {
    const auto lines = layout_lines(module);
    std::string text;
    for (const std::string& line : lines) text += line + "\n";
    detail::Fingerprint fingerprint;
    fingerprint.add(text);
    const auto rows =
        detail::gather_rows(group, {fingerprint.value()}, detail::Op::LayoutCheck, "comparing fingerprints");
    const bool same = std::all_of(rows.begin(), rows.end(), [&](const auto& row) { return row[0] == rows[0][0]; });
    if (same) return;
    // Rare and fatal: now exchange the full descriptions so every rank can say what differs.
    const auto texts = detail::gather_strings(group, text, detail::Op::LayoutCheck, "comparing models");
    auto lines_of = [](const std::string& t) {
        auto parts = split(t, '\n');
        if (!parts.empty() && parts.back().empty()) parts.pop_back();
        return parts;
    };
    const auto reference = lines_of(texts[0]);
    std::string message = "DistributedDataParallel: the ranks built different models: ";
    bool first = true;
    for (std::size_t r = 1; r < texts.size(); ++r) {
        if (rows[r][0] == rows[0][0]) continue;
        message += (first ? "" : "; ") + first_difference(reference, lines_of(texts[r]), static_cast<int>(r));
        first = false;
    }
    throw DistributedError(message + "; every rank must build the same model");
}

}  // namespace

/// Buckets of gradients, reduced as soon as each is complete. Lives on the heap so the hooks it
/// installs on the parameters can hold a stable pointer; removes them when destroyed.
struct DistributedDataParallel::Reducer {
    enum class Mode { Idle, Sync, Local };

    struct Slot {
        Tensor param;
        Tensor view;  // this parameter's place in its bucket, shaped like the parameter
        std::size_t bucket = 0;
        bool ready = false;
        HookHandle hook;
    };
    struct Bucket {
        Tensor flat;
        std::size_t size = 0;  // slots in this bucket
        std::size_t pending = 0;
        bool launched = false;
        Work work;
    };

    detail::Group& group;
    std::vector<Slot> slots;
    std::vector<Bucket> buckets;
    std::vector<double> used;  // per slot: 1 where this rank used the parameter since the last exchange
    Tensor used_anywhere;      // after the last bucket's gradients: the sum of every rank's flags
    Mode mode = Mode::Idle;
    bool callback_queued = false;
    std::size_t next_to_launch = 0;
    std::size_t bytes = 0;
    double divisor = 1;  // ranks the bucket sums are divided by

    Reducer(Module& module, double bucket_cap_mb, detail::Group& exchange_group) : group(exchange_group) {
        std::vector<Tensor> params;
        for (const Parameter& p : module.parameters()) {
            if (p.defined() && p.requires_grad()) params.push_back(p);
        }
        // Backward produces gradients roughly from the last layer to the first.
        std::reverse(params.begin(), params.end());
        const auto cap = static_cast<std::size_t>(bucket_cap_mb * 1024 * 1024);
        for (Dtype dtype : {kFloat32, kFloat64, kBFloat16, kFloat16}) {
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
        append_used_flags_to_last_bucket();
        for (std::size_t i = 0; i < slots.size(); ++i) {
            slots[i].hook =
                slots[i].param.register_post_accumulate_grad_hook([this, i](const Tensor&) { on_gradient(i); });
        }
    }

    ~Reducer() {
        for (Slot& slot : slots) slot.hook.remove();
    }
    Reducer(const Reducer&) = delete;
    Reducer& operator=(const Reducer&) = delete;

    void on_gradient(std::size_t index) {
        used[index] = 1;  // also inside no_sync: the accumulated gradient counts
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
        if (--buckets[slot.bucket].pending == 0) launch_ready_buckets(false);
        // Give MPI a chance to progress buckets already in flight.
        for (std::size_t b = 0; b < next_to_launch; ++b) buckets[b].work.is_completed();
    }

    /// The "used" flags travel in the last bucket, after its gradients: summed over ranks they say
    /// which parameters any rank used, without a collective of their own. That bucket therefore
    /// starts only when backward ends (it holds the first layers, whose gradients come last anyway).
    void append_used_flags_to_last_bucket() {
        used.assign(slots.size(), 0);
        if (buckets.empty()) return;
        const std::size_t last = buckets.size() - 1;
        const std::int64_t gradients = buckets[last].flat.numel();
        buckets[last].flat = zeros({gradients + static_cast<std::int64_t>(slots.size())},
                                   TensorOptions().dtype(buckets[last].flat.dtype()));
        std::int64_t offset = 0;
        for (Slot& slot : slots) {
            if (slot.bucket != last) continue;
            slot.view = buckets[last].flat.narrow(0, offset, slot.param.numel()).view(slot.param.shape());
            offset += slot.param.numel();
        }
        used_anywhere = buckets[last].flat.narrow(0, gradients, static_cast<std::int64_t>(slots.size()));
    }

    /// Launches complete buckets strictly in index order, so every rank issues the same
    /// collectives in the same sequence whatever order its gradients arrived in. The last bucket
    /// waits for `backward_done` (it carries the used flags).
    void launch_ready_buckets(bool backward_done) {
        while (next_to_launch < buckets.size() && buckets[next_to_launch].pending == 0 &&
               (backward_done || next_to_launch + 1 < buckets.size())) {
            Bucket& bucket = buckets[next_to_launch++];
            bucket.work = detail::start_all_reduce(
                group, bucket.flat, ReduceOp::Sum, detail::Op::GradientBucket,
                "bucket " + std::to_string(next_to_launch) + " of " + std::to_string(buckets.size()));
            bucket.launched = true;
        }
    }

    void finish_backward() {
        // Parameters this backward did not reach contribute what they hold: a gradient accumulated
        // inside no_sync(), or zeros.
        for (Slot& slot : slots) {
            if (slot.ready) continue;
            const Tensor grad = slot.param.grad();
            if (grad.defined()) {
                slot.view.copy_(grad);
            } else {
                slot.view.zero_();
            }
            slot.ready = true;
            --buckets[slot.bucket].pending;
        }
        exchange(used);
        const std::vector<double> used_by = used_anywhere.to(kFloat64).to_vector<double>();
        for (Bucket& bucket : buckets) bucket.flat.mul_(1.0 / divisor);
        for (std::size_t i = 0; i < slots.size(); ++i) {
            Slot& slot = slots[i];
            slot.ready = false;
            if (used_by[i] == 0) continue;  // no rank used it: its gradient stays as it was
            const Tensor grad = slot.param.grad();
            if (grad.defined()) {
                grad.detach().copy_(slot.view);
            } else {
                slot.param.set_grad(slot.view.clone());
            }
        }
        reset();
    }

    /// Sends the used flags with the last bucket, launches what is left and waits for everything.
    void exchange(const std::vector<double>& flags) {
        if (!buckets.empty()) {
            used_anywhere.copy_(tensor(flags, {static_cast<std::int64_t>(flags.size())}, used_anywhere.dtype()));
        }
        launch_ready_buckets(true);
        for (Bucket& bucket : buckets) bucket.work.wait();
    }

    /// A joined rank's part of one synchronised step of the others: zero gradients, nothing used.
    void shadow_backward() {
        for (Bucket& bucket : buckets) {
            bucket.flat.zero_();
            bucket.pending = 0;
        }
        exchange(std::vector<double>(slots.size(), 0.0));
        reset();
    }

    void reset() {
        used.assign(slots.size(), 0);
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
        throw ValueError("DistributedDataParallel: bucket_cap_mb must be positive, got " +
                         std::to_string(options_.bucket_cap_mb_));
    }
    group_ = detail::make_group("DistributedDataParallel");
    if (!has_uninitialized_state(module)) start();  // a lazy model starts after its first forward
}

DistributedDataParallel::~DistributedDataParallel() = default;
DistributedDataParallel::DistributedDataParallel(DistributedDataParallel&&) noexcept = default;
DistributedDataParallel& DistributedDataParallel::operator=(DistributedDataParallel&&) noexcept = default;

Tensor DistributedDataParallel::operator()(const Tensor& input) {
    std::vector<Tensor> outputs = call({input});
    if (outputs.size() != 1) {
        throw TypeError("DistributedDataParallel: " + module_->name() + " returns " + std::to_string(outputs.size()) +
                        " tensors; call(inputs) returns them all, or forward([&] { return model(x); }) its own type");
    }
    return std::move(outputs[0]);
}

std::vector<Tensor> DistributedDataParallel::call(const std::vector<Tensor>& inputs) {
    prepare_forward([&] { module_->call(inputs); });
    return module_->call(inputs);
}

void DistributedDataParallel::start() {
    verify_same_layout(*module_, *group_);
    broadcast_states(true, 0);
    reducer_ = std::make_unique<Reducer>(*module_, options_.bucket_cap_mb_, *group_);
}

void DistributedDataParallel::prepare_forward(const std::function<void()>& materialising_pass) {
    if (!reducer_) {
        if (has_uninitialized_state(*module_)) {
            // Materialise from the real input without touching running statistics or dropout;
            // afterwards every submodule gets its own flag back (a frozen BatchNorm stays in eval).
            std::vector<std::pair<Module*, bool>> modes;
            for (Module* m : module_->modules()) modes.emplace_back(m, m->is_training());
            module_->eval();
            {
                NoGradGuard no_grad;
                materialising_pass();
            }
            for (const auto& [m, training] : modes) m->train(training);  // pre-order: children last
            if (has_uninitialized_state(*module_)) {
                throw ValueError("DistributedDataParallel: " + module_->name() +
                                 " still has uninitialized parameters after a forward; every lazy module must be "
                                 "reached by the forward before training");
            }
        }
        start();
    }
    const bool exchange = is_grad_enabled() && sync_enabled_;
    if (exchange && join_enabled_) {
        join_round(true);
        reducer_->divisor = join_divide_by_initial_world_size_ ? world_size() : authoritative_active_ranks_;
    } else {
        reducer_->divisor = world_size();
    }
    if (exchange && options_.broadcast_buffers_) broadcast_states(false, join_enabled_ ? authoritative_rank_ : 0);
    if (is_grad_enabled()) reducer_->mode = sync_enabled_ ? Reducer::Mode::Sync : Reducer::Mode::Local;
}

void DistributedDataParallel::broadcast_states(bool parameters, int root) {
    if (world_size() == 1) return;
    std::vector<Tensor> states;
    if (parameters) {
        for (const Parameter& p : module_->parameters()) {
            if (p.defined()) states.push_back(p);
        }
    }
    for (const Tensor& b : module_buffers(*module_)) states.push_back(b);
    detail::broadcast_coalesced(*group_, states, root, detail::Op::StateBroadcast);
}

void DistributedDataParallel::sync_buffers() { broadcast_states(false, 0); }
void DistributedDataParallel::sync_module_states() { broadcast_states(true, 0); }

int DistributedDataParallel::join_round(bool active) {
    const auto rows = detail::gather_rows(*group_, {active ? 1 : 0}, detail::Op::JoinRound);
    int count = 0;
    std::vector<int> joined;
    for (std::size_t r = 0; r < rows.size(); ++r) {
        if (rows[r][0]) {
            ++count;
            authoritative_rank_ = static_cast<int>(r);  // the highest rank still training
        } else {
            joined.push_back(static_cast<int>(r));
        }
    }
    authoritative_active_ranks_ = count;
    if (count > 0) last_authoritative_rank_ = authoritative_rank_;
    if (join_throw_on_early_termination_ && !joined.empty()) {
        throw DistributedError("Join: " + detail::rank_list(joined) +
                               " ran out of inputs (throw_on_early_termination is set); every rank stops here");
    }
    return count;
}

void DistributedDataParallel::shadow_step() {
    if (options_.broadcast_buffers_) broadcast_states(false, authoritative_rank_);
    reducer_->shadow_backward();
}

std::size_t DistributedDataParallel::num_buckets() const { return reducer_ ? reducer_->buckets.size() : 0; }
std::size_t DistributedDataParallel::gradient_bytes() const { return reducer_ ? reducer_->bytes : 0; }

DistributedDataParallel::NoSync::NoSync(DistributedDataParallel& ddp) : ddp_(&ddp), previous_(ddp.sync_enabled_) {
    ddp.sync_enabled_ = false;
}

DistributedDataParallel::NoSync::~NoSync() { ddp_->sync_enabled_ = previous_; }

}  // namespace lazynn::distributed
