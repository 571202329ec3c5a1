#include "mpi_support.hpp"

#include <lazynn/autograd.hpp>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <functional>

namespace lazynn::distributed {

struct Work::State {
    detail::Pending pending;
    MPI_Request request = MPI_REQUEST_NULL;
    Tensor tensor;                // kept alive while MPI writes into it
    Tensor reduced;               // what MPI reduces: `tensor`, or its float32 copy for 16-bit tensors
    std::vector<Tensor> buffers;  // everything MPI reads or writes
    bool mean = false;            // divide by world_size() once complete
    bool done = false;

    State() = default;
    State(const State&) = delete;
    State& operator=(const State&) = delete;
    ~State() {
        if (!done) detail::abandon(buffers);  // never completed: MPI may still write them
    }

    void finish() {
        done = true;
        NoGradGuard no_grad;
        if (mean && reduced.defined()) reduced.detach().mul_(1.0 / world_size());
        if (reduced.defined() && !reduced.is_same(tensor)) tensor.detach().copy_(reduced);  // 16-bit: rounded once
    }
};

namespace {

constexpr std::size_t kHeaderDims = 6;

/// The header check_same_call gathers: collective, parameter, dtype, rank, numel, a shape hash and
/// the first dimensions.
std::vector<std::int64_t> call_header(detail::Op op, std::int64_t parameter, const Tensor* tensor) {
    std::vector<std::int64_t> row{static_cast<std::int64_t>(op), parameter, -1, -1, 0, 0};
    row.resize(6 + kHeaderDims, 0);
    if (tensor) {
        detail::Fingerprint shape;
        for (std::int64_t d : tensor->shape()) shape.add(static_cast<std::uint64_t>(d));
        row[2] = static_cast<std::int64_t>(tensor->dtype());
        row[3] = tensor->dim();
        row[4] = tensor->numel();
        row[5] = shape.value();
        for (std::size_t i = 0; i < kHeaderDims && i < static_cast<std::size_t>(tensor->dim()); ++i) {
            row[6 + i] = tensor->size(static_cast<std::int64_t>(i));
        }
    }
    return row;
}

std::string describe_tensor(const std::vector<std::int64_t>& row) {
    if (row[3] < 0) return "no tensor";
    std::string text = "[";
    for (std::int64_t i = 0; i < row[3]; ++i) {
        text += (i ? ", " : "");
        text +=
            i < static_cast<std::int64_t>(kHeaderDims) ? std::to_string(row[6 + static_cast<std::size_t>(i)]) : "...";
        if (i >= static_cast<std::int64_t>(kHeaderDims)) break;
    }
    return text + "] " + dtype_name(static_cast<Dtype>(row[2]));
}

const char* reduce_op_name(std::int64_t op) {
    switch (static_cast<ReduceOp>(op)) {
        case ReduceOp::Sum:
            return "Sum";
        case ReduceOp::Mean:
            return "Mean";
        case ReduceOp::Max:
            return "Max";
        case ReduceOp::Min:
            return "Min";
        case ReduceOp::Product:
            return "Product";
    }
    return "?";
}

void require_mean_dtype(const Tensor& tensor, ReduceOp op, const char* what) {
    if (op == ReduceOp::Mean && !tensor.is_floating_point()) {
        throw DtypeError(std::string(what) + ": ReduceOp::Mean needs a floating dtype, got " +
                         dtype_name(tensor.dtype()));
    }
}

/// Blocking collectives are started non-blocking and waited for with the group's timeout.
void run_timed(detail::Group& group, detail::Op op, const std::vector<Tensor>& buffers,
               const std::function<int(MPI_Request*)>& start) {
    detail::Pending pending = detail::begin(group, op);
    MPI_Request request;
    detail::check(start(&request), detail::op_name(op).c_str());
    detail::wait(pending, request, buffers);
}

}  // namespace

int detail::checked_count(std::int64_t n, const char* what) {
    if (n > INT_MAX) {
        throw ValueError(std::string(what) + ": tensors over 2^31-1 elements are not supported by MPI counts");
    }
    return static_cast<int>(n);
}

void detail::check_same_call(Group& group, Op op, std::int64_t parameter, const Tensor* tensor) {
    const auto rows =
        gather_rows(group, call_header(op, parameter, tensor), op, "checking that every rank made the same call");
    const std::string what = op_name(op);
    auto differs = [&](std::size_t from, std::size_t to) {
        for (const auto& row : rows) {
            if (!std::equal(row.begin() + static_cast<std::ptrdiff_t>(from),
                            row.begin() + static_cast<std::ptrdiff_t>(to),
                            rows[0].begin() + static_cast<std::ptrdiff_t>(from))) {
                return true;
            }
        }
        return false;
    };
    std::vector<std::string> per_rank;
    if (differs(0, 1)) {
        for (const auto& row : rows) per_rank.push_back(op_name(static_cast<Op>(row[0])));
        throw DistributedError(what + " [collective #" + std::to_string(group.launched) + " on " + group.name +
                               "]: ranks called different collectives (" + describe_by_rank(per_rank) +
                               "); every rank must make the same collective calls in the same order");
    }
    if (differs(2, rows[0].size())) {
        for (const auto& row : rows) per_rank.push_back(describe_tensor(row));
        throw DistributedError(what + ": ranks passed different tensors (" + describe_by_rank(per_rank) +
                               "); every rank must pass the same shape and dtype");
    }
    if (differs(1, 2)) {
        const bool root = op == Op::Broadcast;
        for (const auto& row : rows) {
            per_rank.push_back(root ? "root " + std::to_string(row[1]) : reduce_op_name(row[1]));
        }
        throw DistributedError(what + ": ranks passed different " + (root ? "roots" : "reduce ops") + " (" +
                               describe_by_rank(per_rank) + ")");
    }
}

std::vector<std::vector<std::int64_t>> detail::gather_rows(Group& group, const std::vector<std::int64_t>& row, Op kind,
                                                           std::string detail) {
    const int world = world_size();
    const auto n = static_cast<std::int64_t>(row.size());
    Tensor mine = empty({n}, TensorOptions().dtype(kInt64));
    std::copy(row.begin(), row.end(), mine.data_ptr<std::int64_t>());
    Tensor all = empty({world * n}, TensorOptions().dtype(kInt64));
    Pending pending = begin(group, kind, std::move(detail));
    MPI_Request request;
    check(MPI_Iallgather(mine.data_ptr<std::int64_t>(), static_cast<int>(n), MPI_INT64_T, all.data_ptr<std::int64_t>(),
                         static_cast<int>(n), MPI_INT64_T, group.comm, &request),
          op_name(kind).c_str());
    wait(pending, request, {mine, all});
    std::vector<std::vector<std::int64_t>> rows;
    rows.reserve(static_cast<std::size_t>(world));
    const std::int64_t* data = all.data_ptr<std::int64_t>();
    for (int r = 0; r < world; ++r) rows.emplace_back(data + r * n, data + (r + 1) * n);
    return rows;
}

std::vector<std::string> detail::gather_strings(Group& group, const std::string& text, Op kind, std::string detail) {
    const int world = world_size();
    const auto words = static_cast<std::int64_t>((text.size() + 7) / 8);
    const auto lengths = gather_rows(group, {static_cast<std::int64_t>(text.size()), words}, kind, detail);
    std::vector<int> counts, offsets;
    int total = 0;
    for (const auto& row : lengths) {
        offsets.push_back(total);
        counts.push_back(static_cast<int>(row[1]));
        total += static_cast<int>(row[1]);
    }
    Tensor mine = zeros({std::max<std::int64_t>(words, 1)}, TensorOptions().dtype(kInt64));
    std::copy(text.begin(), text.end(), reinterpret_cast<char*>(mine.data_ptr<std::int64_t>()));
    Tensor all = zeros({std::max(total, 1)}, TensorOptions().dtype(kInt64));
    Pending pending = begin(group, kind, std::move(detail));
    MPI_Request request;
    check(
        MPI_Iallgatherv(mine.data_ptr<std::int64_t>(), static_cast<int>(words), MPI_INT64_T,
                        all.data_ptr<std::int64_t>(), counts.data(), offsets.data(), MPI_INT64_T, group.comm, &request),
        op_name(kind).c_str());
    wait(pending, request, {mine, all});
    std::vector<std::string> result;
    result.reserve(static_cast<std::size_t>(world));
    const char* bytes = reinterpret_cast<const char*>(all.data_ptr<std::int64_t>());
    for (int r = 0; r < world; ++r) {
        result.emplace_back(bytes + 8 * static_cast<std::size_t>(offsets[static_cast<std::size_t>(r)]),
                            static_cast<std::size_t>(lengths[static_cast<std::size_t>(r)][0]));
    }
    return result;
}

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
    detail::wait(state_->pending, state_->request, state_->buffers);
    state_->finish();
}

bool Work::is_completed() {
    if (!state_ || state_->done) return true;
    detail::require_usable("is_completed");
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
    detail::check_same_call(detail::default_group(), detail::Op::AllReduce, static_cast<std::int64_t>(op), &tensor);
    return detail::start_all_reduce(detail::default_group(), tensor, op, detail::Op::AllReduce, "");
}

Work detail::start_all_reduce(Group& group, const Tensor& tensor, ReduceOp op, Op kind, std::string detail) {
    auto state = std::make_unique<Work::State>();
    state->tensor = tensor;
    state->reduced = reduction_copy(tensor);
    state->buffers = {state->reduced};
    state->mean = op == ReduceOp::Mean;
    void* data = contiguous_data(state->reduced, "all_reduce");
    state->pending = begin(group, kind, std::move(detail));
    const int code = MPI_Iallreduce(MPI_IN_PLACE, data, checked_count(tensor.numel(), "all_reduce"),
                                    mpi_type(state->reduced.dtype()), mpi_op(op), group.comm, &state->request);
    if (code != MPI_SUCCESS) state->done = true;  // nothing in flight
    check(code, op_name(kind).c_str());
    return Work(std::move(state));
}

void detail::broadcast_coalesced(Group& group, const std::vector<Tensor>& tensors, int root, Op kind) {
    NoGradGuard no_grad;
    for (Dtype dtype : {kFloat32, kFloat64, kInt64, kBFloat16, kFloat16}) {
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
        void* data = contiguous_data(packed, "broadcast");
        run_timed(group, kind, {packed}, [&](MPI_Request* request) {
            return MPI_Ibcast(data, checked_count(total, "broadcast"), mpi_type(dtype), root, group.comm, request);
        });
        offset = 0;
        for (const Tensor& t : tensors) {
            if (t.dtype() != dtype) continue;
            t.detach().copy_(packed.narrow(0, offset, t.numel()).reshape(t.shape()));
            offset += t.numel();
        }
    }
}

void broadcast(const Tensor& tensor, int root) {
    detail::require_initialized("broadcast");
    if (root < 0 || root >= world_size()) {
        throw ValueError("broadcast: root " + std::to_string(root) + " is not a rank (world size " +
                         std::to_string(world_size()) + ")");
    }
    void* data = detail::contiguous_data(tensor, "broadcast");
    detail::Group& group = detail::default_group();
    detail::check_same_call(group, detail::Op::Broadcast, root, &tensor);
    run_timed(group, detail::Op::Broadcast, {tensor}, [&](MPI_Request* request) {
        return MPI_Ibcast(data, detail::checked_count(tensor.numel(), "broadcast"), detail::mpi_type(tensor.dtype()),
                          root, group.comm, request);
    });
}

std::vector<Tensor> all_gather(const Tensor& tensor) {
    detail::require_initialized("all_gather");
    const Tensor input = tensor.contiguous();
    void* data = detail::contiguous_data(input, "all_gather");
    detail::Group& group = detail::default_group();
    detail::check_same_call(group, detail::Op::AllGather, 0, &input);
    const int world = world_size();
    const int count = detail::checked_count(input.numel(), "all_gather");
    Shape stacked{world};
    for (std::int64_t d : input.shape()) stacked.push_back(d);
    Tensor gathered = empty(stacked, TensorOptions().dtype(input.dtype()));
    void* out = detail::contiguous_data(gathered, "all_gather");
    run_timed(group, detail::Op::AllGather, {input, gathered}, [&](MPI_Request* request) {
        return MPI_Iallgather(data, count, detail::mpi_type(input.dtype()), out, count, detail::mpi_type(input.dtype()),
                              group.comm, request);
    });
    std::vector<Tensor> result;
    result.reserve(static_cast<std::size_t>(world));
    for (int r = 0; r < world; ++r) result.push_back(gathered.select(0, r));
    return result;
}

Tensor reduce_scatter(const Tensor& input, ReduceOp op) {
    detail::require_initialized("reduce_scatter");
    const int world = world_size();
    if (input.dim() == 0 || input.size(0) % world != 0) {
        throw ShapeError("reduce_scatter: dim 0 of the input must be a multiple of the world size " +
                         std::to_string(world) + ", got shape " +
                         shape_to_list(input.dim() == 0 ? Shape{} : input.shape()));
    }
    require_mean_dtype(input, op, "reduce_scatter");
    const Tensor contiguous = input.contiguous();
    detail::contiguous_data(contiguous, "reduce_scatter");  // validates
    detail::Group& group = detail::default_group();
    detail::check_same_call(group, detail::Op::ReduceScatter, static_cast<std::int64_t>(op), &contiguous);
    const Tensor reduced = detail::reduction_copy(contiguous);
    void* data = detail::contiguous_data(reduced, "reduce_scatter");
    Shape out_shape = contiguous.shape();
    out_shape[0] /= world;
    Tensor output = empty(out_shape, TensorOptions().dtype(reduced.dtype()));
    void* out = detail::contiguous_data(output, "reduce_scatter");
    run_timed(group, detail::Op::ReduceScatter, {reduced, output}, [&](MPI_Request* request) {
        return MPI_Ireduce_scatter_block(data, out, detail::checked_count(output.numel(), "reduce_scatter"),
                                         detail::mpi_type(reduced.dtype()), detail::mpi_op(op), group.comm, request);
    });
    if (op == ReduceOp::Mean) output.mul_(1.0 / world);
    return output.to(input.dtype());  // 16-bit: rounded once
}

}  // namespace lazynn::distributed
