#include "mpi_support.hpp"

#include <lazynn/autograd.hpp>

#include <climits>
#include <cstdint>

namespace lazynn::distributed {

struct Work::State {
    MPI_Request request = MPI_REQUEST_NULL;
    Tensor tensor;         // kept alive while MPI writes into it
    bool mean = false;     // divide by world_size() once complete
    bool done = false;

    void finish() {
        done = true;
        if (mean) {
            NoGradGuard no_grad;
            tensor.detach().mul_(1.0 / world_size());
        }
    }
};

namespace {

int checked_count(std::int64_t n, const char* what) {
    if (n > INT_MAX) throw ValueError(std::string(what) + ": tensors over 2^31-1 elements are not supported by MPI counts");
    return static_cast<int>(n);
}

/// One tiny all-reduce that makes every rank agree on (shape, dtype) before the real collective,
/// so a mismatch throws on all ranks instead of being undefined behaviour inside MPI.
void verify_same_tensor(const Tensor& tensor, const char* what) {
    detail::Fingerprint shape;
    for (std::int64_t d : tensor.shape()) shape.add(static_cast<std::uint64_t>(d));
    const auto ranges = detail::min_max_across_ranks({tensor.numel(), static_cast<std::int64_t>(tensor.dtype()), shape.value()}, what);
    for (const auto& [low, high] : ranges) {
        if (low == high) continue;
        throw DistributedError(std::string(what) + ": ranks passed different tensors (element counts from " +
                               std::to_string(ranges[0].first) + " to " + std::to_string(ranges[0].second) + "; rank " +
                               std::to_string(rank()) + " has shape " + shape_to_list(tensor.shape()) + " " +
                               dtype_name(tensor.dtype()) + "); every rank must pass the same shape and dtype");
    }
}

void require_mean_dtype(const Tensor& tensor, ReduceOp op, const char* what) {
    if (op == ReduceOp::Mean && !tensor.is_floating_point()) {
        throw DtypeError(std::string(what) + ": ReduceOp::Mean needs a floating dtype, got " + dtype_name(tensor.dtype()));
    }
}

}  // namespace

Work::Work() = default;
Work::Work(std::unique_ptr<State> state) : state_(std::move(state)) {}
Work::Work(Work&&) noexcept = default;
Work& Work::operator=(Work&& other) noexcept {
    if (this != &other) {
        try {
            if (state_ && !state_->done) wait();
        } catch (...) {  // a failed collective while being replaced: nothing left to report it to
        }
        state_ = std::move(other.state_);
    }
    return *this;
}

Work::~Work() {
    try {
        if (state_ && !state_->done) wait();
    } catch (...) {  // destructors must not throw; wait() explicitly to see the error
    }
}

void Work::wait() {
    if (!state_ || state_->done) return;
    detail::check(MPI_Wait(&state_->request, MPI_STATUS_IGNORE), "wait");
    state_->finish();
}

bool Work::is_completed() {
    if (!state_ || state_->done) return true;
    int flag = 0;
    detail::check(MPI_Test(&state_->request, &flag, MPI_STATUS_IGNORE), "is_completed");
    if (flag) state_->finish();
    return flag != 0;
}

void all_reduce(const Tensor& tensor, ReduceOp op) { all_reduce_async(tensor, op).wait(); }

Work all_reduce_async(const Tensor& tensor, ReduceOp op) {
    detail::require_initialized("all_reduce");
    detail::contiguous_data(tensor, "all_reduce");  // validates
    require_mean_dtype(tensor, op, "all_reduce");
    verify_same_tensor(tensor, "all_reduce");
    return detail::start_all_reduce(tensor, op);
}

Work detail::start_all_reduce(const Tensor& tensor, ReduceOp op) {
    auto state = std::make_unique<Work::State>();
    state->tensor = tensor;
    state->mean = op == ReduceOp::Mean;
    detail::check(MPI_Iallreduce(MPI_IN_PLACE, contiguous_data(tensor, "all_reduce"), checked_count(tensor.numel(), "all_reduce"),
                                 mpi_type(tensor.dtype()), mpi_op(op), MPI_COMM_WORLD, &state->request),
                  "all_reduce");
    return Work(std::move(state));
}

void detail::broadcast_coalesced(const std::vector<Tensor>& tensors, int root) {
    NoGradGuard no_grad;
    for (Dtype dtype : {kFloat32, kFloat64, kInt64}) {
        std::int64_t total = 0;
        for (const Tensor& t : tensors) {
            if (t.dtype() == dtype) total += t.numel();
        }
        if (total == 0) continue;
        Tensor packed = empty({total}, TensorOptions().dtype(dtype));
        std::int64_t offset = 0;
        for (const Tensor& t : tensors) {
            if (t.dtype() != dtype) continue;
            packed.narrow(0, offset, t.numel()).copy_(t.detach().reshape({t.numel()}));
            offset += t.numel();
        }
        check(MPI_Bcast(contiguous_data(packed, "broadcast"), checked_count(total, "broadcast"), mpi_type(dtype), root,
                        MPI_COMM_WORLD),
              "broadcast");
        offset = 0;
        for (const Tensor& t : tensors) {
            if (t.dtype() != dtype) continue;
            t.detach().copy_(packed.narrow(0, offset, t.numel()).reshape(t.shape()));
            offset += t.numel();
        }
    }
}

std::vector<std::pair<std::int64_t, std::int64_t>> detail::min_max_across_ranks(const std::vector<std::int64_t>& values, const char* what) {
    // max(v) and max(-v) = -min(v), all in one MPI_MAX reduction.
    std::vector<std::int64_t> extremes;
    for (std::int64_t v : values) {
        extremes.push_back(v);
        extremes.push_back(-v);
    }
    check(MPI_Allreduce(MPI_IN_PLACE, extremes.data(), static_cast<int>(extremes.size()), MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), what);
    std::vector<std::pair<std::int64_t, std::int64_t>> ranges;
    for (std::size_t i = 0; i < values.size(); ++i) ranges.emplace_back(-extremes[2 * i + 1], extremes[2 * i]);
    return ranges;
}

void detail::verify_same_fingerprint(std::int64_t fingerprint, const std::string& what) {
    const auto range = min_max_across_ranks({fingerprint}, what.c_str()).front();
    if (range.first != range.second) throw DistributedError(what);
}

void broadcast(const Tensor& tensor, int root) {
    detail::require_initialized("broadcast");
    if (root < 0 || root >= world_size()) {
        throw ValueError("broadcast: root " + std::to_string(root) + " is not a rank (world size " +
                         std::to_string(world_size()) + ")");
    }
    void* data = detail::contiguous_data(tensor, "broadcast");
    verify_same_tensor(tensor, "broadcast");
    detail::check(MPI_Bcast(data, checked_count(tensor.numel(), "broadcast"), detail::mpi_type(tensor.dtype()), root,
                            MPI_COMM_WORLD),
                  "broadcast");
}

std::vector<Tensor> all_gather(const Tensor& tensor) {
    detail::require_initialized("all_gather");
    const Tensor input = tensor.contiguous();
    void* data = detail::contiguous_data(input, "all_gather");
    verify_same_tensor(input, "all_gather");
    const int world = world_size();
    const int count = checked_count(input.numel(), "all_gather");
    Shape stacked{world};
    for (std::int64_t d : input.shape()) stacked.push_back(d);
    Tensor gathered = empty(stacked, TensorOptions().dtype(input.dtype()));
    detail::check(MPI_Allgather(data, count, detail::mpi_type(input.dtype()), detail::contiguous_data(gathered, "all_gather"),
                                count, detail::mpi_type(input.dtype()), MPI_COMM_WORLD),
                  "all_gather");
    std::vector<Tensor> result;
    for (int r = 0; r < world; ++r) result.push_back(gathered.select(0, r));
    return result;
}

Tensor reduce_scatter(const Tensor& input, ReduceOp op) {
    detail::require_initialized("reduce_scatter");
    const int world = world_size();
    if (input.dim() == 0 || input.size(0) % world != 0) {
        throw ShapeError("reduce_scatter: dim 0 of the input must be a multiple of the world size " + std::to_string(world) +
                         ", got shape " + shape_to_list(input.dim() == 0 ? Shape{} : input.shape()));
    }
    require_mean_dtype(input, op, "reduce_scatter");
    const Tensor contiguous = input.contiguous();
    void* data = detail::contiguous_data(contiguous, "reduce_scatter");
    verify_same_tensor(contiguous, "reduce_scatter");
    Shape out_shape = contiguous.shape();
    out_shape[0] /= world;
    Tensor output = empty(out_shape, TensorOptions().dtype(input.dtype()));
    detail::check(MPI_Reduce_scatter_block(data, detail::contiguous_data(output, "reduce_scatter"),
                                           checked_count(output.numel(), "reduce_scatter"), detail::mpi_type(input.dtype()),
                                           detail::mpi_op(op), MPI_COMM_WORLD),
                  "reduce_scatter");
    if (op == ReduceOp::Mean) output.mul_(1.0 / world);
    return output;
}

}  // namespace lazynn::distributed
