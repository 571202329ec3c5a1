#pragma once
// What every distributed source needs from MPI (internal header: mpi.h stays out of the public API).
//
// Groups and timeouts. Every collective runs on a Group (a duplicate of MPI_COMM_WORLD: the default
// group for the public collectives and finalize, one per DistributedDataParallel for its gradient
// exchange, so a rank that is in one never matches a rank that is in another). Collectives are
// started non-blocking and polled against the group timeout (wait()). When a rank gives up (its
// deadline passed, or a peer told it that it gave up) it sends its status to every peer on a
// separate control communicator and collects theirs for a short grace period, so every rank can
// name the ranks that did not arrive. See docs/distributed.md, "Timeouts".

#include <lazynn/distributed/collectives.hpp>

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace lazynn::distributed::detail {

using Clock = std::chrono::steady_clock;

/// What a collective is, for the cross-rank checks and the timeout reports.
enum class Op : std::int64_t {
    Barrier = 1,
    AllReduce,
    Broadcast,
    AllGather,
    ReduceScatter,
    Finalize,
    NewGroup,
    GradientBucket,
    JoinRound,
    StateBroadcast,
    LayoutCheck,
};
std::string op_name(Op op);

/// A communicator over every rank, with its own count of collectives.
struct Group {
    MPI_Comm comm = MPI_COMM_NULL;
    int id = 0;        // the same on every rank: groups are created in the same order everywhere
    std::string name;  // "the default group", "DistributedDataParallel group 1"
    std::int64_t launched = 0;
    ~Group();
};

/// The group the public collectives run on.
Group& default_group();
/// A new group over every rank (a collective on the default group; timed like the others).
std::shared_ptr<Group> make_group(const std::string& what);

/// One logical collective in flight: what to report if it never completes.
struct Pending {
    Group* group = nullptr;
    Op op = Op::Barrier;
    std::int64_t seq = 0;  // this collective's number on its group (1, 2, ...)
    std::string detail;    // e.g. "bucket 2 of 3"
    Clock::time_point started;
};

/// Counts a collective on `group`; throws DistributedError if the group is broken or a peer gave up.
Pending begin(Group& group, Op op, std::string detail = "");
/// Polls `request` until it completes; past the deadline (or when a peer gives up) every rank gives
/// up: `keep_alive` (the buffers MPI may still write) is kept forever and DistributedError thrown.
void wait(const Pending& pending, MPI_Request& request, const std::vector<Tensor>& keep_alive);
/// Keeps buffers of a collective that will never be waited for alive until the process ends.
void abandon(const std::vector<Tensor>& buffers);
/// Throws DistributedError when a collective gave up earlier.
void require_usable(const char* what);
/// How long a rank that gave up collects its peers' statuses.
std::chrono::milliseconds grace_period();

/// Creates the default group and the control communicator (after MPI_Init) / frees them.
void open_groups();
void close_groups();
/// The timeout of collectives started from now on.
std::chrono::milliseconds& group_timeout();
/// The message of the collective that gave up ("" while the group is healthy).
const std::string& broken_reason();

/// Throws DistributedError naming `what` and MPI's own description when `code` is not MPI_SUCCESS.
void check(int code, const char* what);
/// Throws DistributedError when init() has not run.
void require_initialized(const char* what);
/// The MPI type that moves `dtype`'s elements. 16-bit floats move as 16-bit words, which MPI's
/// arithmetic must never see: reductions go through reduction_copy.
MPI_Datatype mpi_type(Dtype dtype);
MPI_Op mpi_op(ReduceOp op);
/// What a reduction over `tensor` runs on: the tensor itself, or for bfloat16 and float16 (which
/// MPI cannot add) a float32 copy, whose result is rounded back once. PyTorch's gloo adds in 16 bits.
inline Tensor reduction_copy(const Tensor& tensor) {
    return is_float16(tensor.dtype()) ? tensor.detach().to(kFloat32) : tensor;
}
/// The first element of a contiguous, initialised tensor; throws ValueError naming `what` otherwise.
void* contiguous_data(const Tensor& tensor, const char* what);
int checked_count(std::int64_t n, const char* what);

/// Starts an all-reduce on `group` without the cross-rank shape check, for callers that verified
/// their layout once (the DDP reducer), so a bucket costs exactly one collective.
Work start_all_reduce(Group& group, const Tensor& tensor, ReduceOp op, Op kind, std::string detail);
/// One timed all-gather of a fixed-size header (the collective, its parameter such as the root or
/// the reduce op, the tensor's shape and dtype) before the real collective, so ranks that called
/// different collectives or passed different tensors all throw DistributedError naming what each
/// rank passed, instead of reaching undefined behaviour inside MPI.
void check_same_call(Group& group, Op op, std::int64_t parameter, const Tensor* tensor);
/// Blocking (timed) all-gather of one int64 row per rank: row r of the result is rank r's.
std::vector<std::vector<std::int64_t>> gather_rows(Group& group, const std::vector<std::int64_t>& row, Op kind,
                                                   std::string detail = "");
/// Blocking (timed) all-gather of one string per rank.
std::vector<std::string> gather_strings(Group& group, const std::string& text, Op kind, std::string detail = "");
/// Broadcasts several tensors from `root` with one timed collective per dtype (packed, then unpacked).
void broadcast_coalesced(Group& group, const std::vector<Tensor>& tensors, int root, Op kind);
/// "rank 1", "ranks 0, 2"
std::string rank_list(const std::vector<int>& ranks);
/// Groups ranks with equal descriptions: "rank 0: [3] float32; ranks 1, 2: [4] float32".
std::string describe_by_rank(const std::vector<std::string>& per_rank);

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
    std::int64_t value() const { return static_cast<std::int64_t>(hash_ >> 2); }

private:
    std::uint64_t hash_ = 1469598103934665603ULL;
};

}  // namespace lazynn::distributed::detail
