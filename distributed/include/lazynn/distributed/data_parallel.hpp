#pragma once
// DistributedDataParallel: the same model on every rank, each rank a different slice of the
// batch, gradients averaged so every rank takes the same optimizer step.
//
//     distributed::Environment mpi(argc, argv);
//     manual_seed(0);
//     Net model;                                              // lazy layers are fine
//     distributed::DistributedDataParallel ddp(model);
//     optim::Adam opt(model.parameters(), optim::AdamOptions(1e-3));
//     for (auto& batch : loader) {                            // loader over a DistributedSampler
//         opt.zero_grad();
//         Tensor loss = cross_entropy(ddp(batch.data), batch.target);
//         loss.backward();                                    // gradients all-reduced in buckets
//         opt.step();
//     }
//
// What it does, and when:
//   - Every rank starts identical: the constructor checks that every rank built the same model
//     (the error names the first differing parameter, its shape and dtype on each side, and the
//     ranks) and broadcasts rank 0's parameters and buffers, as PyTorch's does. A lazy model is
//     first materialised at the first forward by a no-grad, eval-mode pass on the real input (so
//     inferred sizes come from the data; each submodule keeps its own train/eval flag), then
//     checked and broadcast the same way. (PyTorch refuses lazy modules under DDP.)
//   - Each forward with grad enabled broadcasts rank 0's buffers (BatchNorm running stats), as
//     PyTorch's broadcast_buffers=True does.
//   - Gradients are grouped into buckets of about bucket_cap_mb in reverse parameter order (the
//     order backward produces them). A bucket's all-reduce starts as soon as its last gradient has
//     been accumulated, while backward continues with earlier layers; when backward finishes, the
//     wrapper waits for every bucket and writes the averages into each parameter's .grad().
//   - Parameters a rank's backward did not reach contribute zeros (or their accumulated .grad()),
//     so ranks never disagree about which buckets to reduce. A used flag per parameter travels in
//     the last bucket, so every rank learns which parameters any rank used: a parameter no rank
//     used keeps its .grad() untouched (as PyTorch's reducer does; optimizers then skip it), the
//     others get the average.
//   - Inside no_sync(), backward only accumulates locally; the next synchronised backward reduces
//     the accumulated sum.
//   - Every exchange is timed (distributed::timeout()); see process_group.hpp.
// Requires: init() has run; the model has the same parameter shapes on every rank; every rank
// calls forward and backward the same number of times (or uses a Join, join.hpp). Constructing
// it is a collective. The wrapper does not own the module (save `module.state_dict()` from rank 0:
// keys have no "module." prefix). Movable, not copyable; the module must outlive it.

#include <lazynn/distributed/collectives.hpp>
#include <lazynn/module.hpp>

#include <cstddef>
#include <functional>
#include <type_traits>
#include <vector>
#include <memory>

namespace lazynn::distributed {

namespace detail {
struct Group;
}
class Join;

struct DistributedDataParallelOptions {
    /// Bucket size in MiB (PyTorch's default 25).
    DistributedDataParallelOptions& bucket_cap_mb(double v) {
        bucket_cap_mb_ = v;
        return *this;
    }
    /// Broadcast rank 0's buffers before every forward with grad enabled.
    DistributedDataParallelOptions& broadcast_buffers(bool v) {
        broadcast_buffers_ = v;
        return *this;
    }
    double bucket_cap_mb_ = 25.0;
    bool broadcast_buffers_ = true;
};

class DistributedDataParallel {
public:
    explicit DistributedDataParallel(Module& module, DistributedDataParallelOptions options = {});
    ~DistributedDataParallel();
    DistributedDataParallel(DistributedDataParallel&&) noexcept;
    DistributedDataParallel& operator=(DistributedDataParallel&&) noexcept;
    DistributedDataParallel(const DistributedDataParallel&) = delete;
    DistributedDataParallel& operator=(const DistributedDataParallel&) = delete;

    /// Shapes: whatever the wrapped module takes and returns.
    Tensor operator()(const Tensor& input);
    Tensor forward(const Tensor& input) { return (*this)(input); }
    /// For modules whose forward takes other arguments or returns several tensors (a TypedModule):
    /// `VAEOutput out = ddp.forward([&] { return vae(x); })` returns what the callable returns.
    /// The callable may run twice on the very first call of a lazy model (the materialising pass).
    ///   requires: `run` calls the wrapped module once.
    template <class Run>
    requires std::invocable<Run&> std::invoke_result_t<Run&> forward(Run&& run) {
        prepare_forward([&] { run(); });
        return run();
    }
    /// The wrapped module called on flat inputs (Module::call): `ddp.call({images, captions})`.
    /// Shapes: whatever the wrapped module takes and returns, flattened.
    std::vector<Tensor> call(const std::vector<Tensor>& inputs);

    Module& module() { return *module_; }

    /// While the returned guard lives, forward/backward only accumulate gradients locally.
    class NoSync {
    public:
        explicit NoSync(DistributedDataParallel& ddp);
        ~NoSync();
        NoSync(const NoSync&) = delete;
        NoSync& operator=(const NoSync&) = delete;

    private:
        DistributedDataParallel* ddp_;
        bool previous_;
    };
    [[nodiscard]] NoSync no_sync() { return NoSync(*this); }

    /// Broadcasts rank 0's buffers now (e.g. before evaluating on every rank). A collective.
    void sync_buffers();
    /// Broadcasts rank 0's parameters and buffers now. A collective.
    void sync_module_states();

    /// Buckets and the bytes each synchronised backward all-reduces (0 before the first forward).
    std::size_t num_buckets() const;
    std::size_t gradient_bytes() const;

private:
    friend class Join;
    struct Reducer;
    void prepare_forward(const std::function<void()>& materialising_pass);
    /// Checks the layout across ranks, broadcasts rank 0's state and builds the buckets.
    void start();
    void broadcast_states(bool parameters, int root);
    /// Join support: one round in which every rank says whether it still has inputs; returns how
    /// many do and remembers the highest such rank (the authoritative one).
    int join_round(bool active);
    /// A joined rank's stand-in for one synchronised step of the others.
    void shadow_step();

    Module* module_;
    DistributedDataParallelOptions options_;
    std::shared_ptr<detail::Group> group_;
    std::unique_ptr<Reducer> reducer_;
    bool sync_enabled_ = true;
    // Set by a Join (join.hpp).
    bool join_enabled_ = false;
    bool join_throw_on_early_termination_ = false;
    bool join_divide_by_initial_world_size_ = true;
    int authoritative_rank_ = 0;
    int authoritative_active_ranks_ = 0;
    int last_authoritative_rank_ = -1;
};

}  // namespace lazynn::distributed
