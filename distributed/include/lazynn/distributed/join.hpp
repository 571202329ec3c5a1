#pragma once
// Join: data-parallel training when ranks hold different numbers of batches (PyTorch's
// torch.distributed.algorithms.Join with a DistributedDataParallel).
//
//     distributed::DistributedDataParallel ddp(model);
//     {
//         distributed::Join join(ddp);
//         for (const data::Example& batch : my_batches) {        // counts differ across ranks
//             opt.zero_grad();
//             loss(ddp(batch.data), batch.target).backward();
//             opt.step();
//         }
//     }   // a rank that ran out keeps answering the others' exchanges until every rank is done
//
// While a Join lives, every synchronised forward with grad first runs one tiny collective in which
// each rank says whether it still has inputs. A rank whose loop ended (finish(), or the
// destructor) answers "no" and stands in for a training step of the others: it broadcasts nothing
// of its own, contributes zero gradients to every bucket and marks no parameter used. Gradients
// are divided by the world size (PyTorch's divide_by_initial_world_size=True), so every step is
// the same as if the joined ranks had had a batch that contributed nothing. When every rank is
// done, the parameters and buffers of the last rank to finish (the highest one among those that
// trained in the final step) are broadcast, so all ranks end identical.
//
// Requires: the wrapped model is materialised (a lazy one: one forward through the wrapper, or
// module.initialize(sample), before the Join); inside the Join every forward with grad enabled and
// outside no_sync() is followed by a backward, and buffers are not broadcast by hand. Optimizer
// state is not synchronised: a rank that joined early did not step its optimizer in the steps it
// stood in for (PyTorch's Join behaves the same for ordinary optimizers).

#include <lazynn/distributed/data_parallel.hpp>

namespace lazynn::distributed {

struct JoinOptions {
    /// Throw DistributedError on every rank as soon as one rank runs out of inputs, instead of
    /// standing in for it (PyTorch's throw_on_early_termination).
    JoinOptions& throw_on_early_termination(bool v) {
        throw_on_early_termination_ = v;
        return *this;
    }
    /// Divide gradients by the world size (true, PyTorch's default) or by the number of ranks that
    /// still had inputs in that step.
    JoinOptions& divide_by_initial_world_size(bool v) {
        divide_by_initial_world_size_ = v;
        return *this;
    }
    bool throw_on_early_termination_ = false;
    bool divide_by_initial_world_size_ = true;
};

/// Not copyable or movable; `ddp` must outlive it. At most one Join per wrapper at a time.
class Join {
public:
    explicit Join(DistributedDataParallel& ddp, JoinOptions options = {});
    /// Calls finish() unless it ran or an exception is propagating; if finish() throws here, the
    /// job is aborted (distributed::abort) since a destructor cannot report it.
    ~Join();
    Join(const Join&) = delete;
    Join& operator=(const Join&) = delete;

    /// This rank is out of inputs: stands in for the others' steps until every rank is done, then
    /// makes every rank's parameters and buffers equal. A collective; throws DistributedError
    /// like any collective (and with throw_on_early_termination).
    void finish();

private:
    DistributedDataParallel* ddp_;
    bool finished_ = false;
    int uncaught_at_start_;
};

}  // namespace lazynn::distributed
