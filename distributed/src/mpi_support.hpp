#pragma once
// What every distributed source needs from MPI (internal header: mpi.h stays out of the public API).

#include <lazynn/distributed/collectives.hpp>

#include <mpi.h>

#include <string>

namespace lazynn::distributed::detail {

/// Throws DistributedError naming `what` and MPI's own description when `code` is not MPI_SUCCESS.
void check(int code, const char* what);
/// Throws DistributedError when init() has not run.
void require_initialized(const char* what);
MPI_Datatype mpi_type(Dtype dtype);
MPI_Op mpi_op(ReduceOp op);
/// The first element of a contiguous, initialised tensor; throws ValueError naming `what` otherwise.
void* contiguous_data(const Tensor& tensor, const char* what);
/// all_reduce_async without the cross-rank shape check, for callers that verified their layout
/// once (the DDP reducer), so a bucket costs exactly one collective.
Work start_all_reduce(const Tensor& tensor, ReduceOp op);
/// Broadcasts several tensors from `root` with one collective per dtype (packed, then unpacked).
void broadcast_coalesced(const std::vector<Tensor>& tensors, int root);
/// Throws DistributedError on every rank unless all ranks passed equal fingerprints.
void verify_same_fingerprint(std::int64_t fingerprint, const std::string& what);

}  // namespace lazynn::distributed::detail
