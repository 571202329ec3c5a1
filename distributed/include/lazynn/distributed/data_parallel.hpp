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
//   - The first forward makes every rank start identical: a lazy model is first materialised by a
//     no-grad, eval-mode forward on the real input (so inferred sizes come from the data), then
//     rank 0's parameters and buffers are broadcast. (PyTorch refuses lazy modules under DDP.)
//   - Each forward with grad enabled broadcasts rank 0's buffers (BatchNorm running stats), as
//     PyTorch's broadcast_buffers=True does.
//   - Gradients are grouped into buckets of about bucket_cap_mb in reverse parameter order (the
//     order backward produces them). A bucket's all-reduce starts as soon as its last gradient has
//     been accumulated, while backward continues with earlier layers; when backward finishes, the
//     wrapper waits for every bucket and writes the averages into each parameter's .grad().
//   - Parameters that got no gradient in a backward contribute zeros (they still get a .grad()),
//     so ranks never disagree about which buckets to reduce.
//   - Inside no_sync(), backward only accumulates locally; the next synchronised backward reduces
//     the accumulated sum.
// Requires: init() has run; the model has the same parameter shapes on every rank; every rank
// calls forward and backward the same number of times. The wrapper does not own the module (save
// `module.state_dict()` from rank 0: keys have no "module." prefix). Movable, not copyable; the
// module must outlive it.

#include <lazynn/distributed/collectives.hpp>
#include <lazynn/module.hpp>

#include <cstddef>
#include <functional>
#include <memory>

namespace lazynn::distributed {

struct DistributedDataParallelOptions {
    /// Bucket size in MiB (PyTorch's default 25).
    DistributedDataParallelOptions& bucket_cap_mb(double v) { bucket_cap_mb_ = v; return *this; }
    /// Broadcast rank 0's buffers before every forward with grad enabled.
    DistributedDataParallelOptions& broadcast_buffers(bool v) { broadcast_buffers_ = v; return *this; }
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
    /// For modules whose forward takes other arguments: `ddp.forward([&] { return net(x, mask); })`.
    /// The callable may run twice on the very first call of a lazy model (the materialising pass).
    Tensor forward(const std::function<Tensor()>& run);

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

    /// Broadcasts rank 0's buffers now (e.g. before evaluating on every rank).
    void sync_buffers();
    /// Broadcasts rank 0's parameters and buffers now.
    void sync_module_states();

    /// Buckets and the bytes each synchronised backward all-reduces (0 before the first forward).
    std::size_t num_buckets() const;
    std::size_t gradient_bytes() const;

private:
    struct Reducer;
    void prepare_forward(const std::function<void()>& materialising_pass);

    Module* module_;
    DistributedDataParallelOptions options_;
    std::unique_ptr<Reducer> reducer_;
    bool sync_enabled_ = true;
};

}  // namespace lazynn::distributed
