#pragma once
// What every distributed source needs from MPI (internal header: mpi.h stays out of the public API).

#include <lazynn/distributed/collectives.hpp>

#include <mpi.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

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
/// FNV-1a over 64-bit words: a summary of shapes, dtypes or names that ranks compare.
class Fingerprint {
public:
    void add(std::uint64_t word) {
        hash_ ^= word;
        hash_ *= 1099511628211ULL;
    }
    void add(const std::string& text) {
        for (char c : text) add(static_cast<unsigned char>(c));
    }
    /// Non-negative, so its negation is representable (min_max_across_ranks negates).
    std::int64_t value() const { return static_cast<std::int64_t>(hash_ >> 2); }

private:
    std::uint64_t hash_ = 1469598103934665603ULL;
};

/// Each value's minimum and maximum over all ranks, in one all-reduce; `what` names the caller.
std::vector<std::pair<std::int64_t, std::int64_t>> min_max_across_ranks(const std::vector<std::int64_t>& values, const char* what);
/// Throws DistributedError on every rank unless all ranks passed equal fingerprints.
void verify_same_fingerprint(std::int64_t fingerprint, const std::string& what);

}  // namespace lazynn::distributed::detail
