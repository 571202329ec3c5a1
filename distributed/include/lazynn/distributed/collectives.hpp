#pragma once
// Collectives on tensors: every rank calls the same function with a tensor of the same shape and
// dtype, in the same order. They work on the tensor's storage (in place where the name says so),
// outside autograd, like torch.distributed's.
//
// Requires: init() has run; tensors are defined, initialised and contiguous. Every function first
// checks, in one tiny collective, that all ranks called the same collective with the same shape,
// dtype, root or reduce op, and throws DistributedError on every rank naming what each rank passed
// if not (MPI would otherwise be undefined). Every wait is bounded by distributed::timeout(): past
// it every rank throws DistributedError naming the collective and the ranks that did not arrive,
// and the group is unusable from then on (process_group.hpp).

#include <lazynn/distributed/process_group.hpp>
#include <lazynn/tensor.hpp>

#include <memory>
#include <vector>

namespace lazynn::distributed {

/// Mean is a sum divided by world_size() (floating dtypes only).
enum class ReduceOp { Sum, Mean, Max, Min, Product };

/// A collective started in the background (the *_async functions). wait() blocks until it is done
/// (at most until the timeout, counted from the start) and throws DistributedError if it failed;
/// destroying an unfinished Work waits for it. Movable, not copyable.
class Work {
public:
    Work();
    ~Work();
    Work(Work&&) noexcept;
    Work& operator=(Work&&) noexcept;
    Work(const Work&) = delete;
    Work& operator=(const Work&) = delete;
    void wait();
    /// Polls without blocking (also lets MPI make progress).
    bool is_completed();

    struct State;
    explicit Work(std::unique_ptr<State> state);

private:
    std::unique_ptr<State> state_;
};

/// Reduces `tensor` element-wise over all ranks; every rank ends with the result.
void all_reduce(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
/// The same, returning at once; the tensor holds the result after wait().
Work all_reduce_async(const Tensor& tensor, ReduceOp op = ReduceOp::Sum);
/// Copies `root`'s tensor into every other rank's `tensor`.
void broadcast(const Tensor& tensor, int root = 0);
/// Every rank's tensor, indexed by rank.
std::vector<Tensor> all_gather(const Tensor& tensor);
/// Reduces `input` over ranks and returns this rank's slice of the result along dim 0:
/// input [world_size * k, ...] -> output [k, ...]. dim 0 must divide evenly.
Tensor reduce_scatter(const Tensor& input, ReduceOp op = ReduceOp::Sum);

}  // namespace lazynn::distributed
