#include "mpi_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <thread>

namespace lazynn::distributed {
namespace {

int cached_rank = -1;
int cached_world_size = -1;
int cached_local_rank = -1;

bool mpi_running() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    return initialized && !finalized;
}

[[noreturn]] void abort_on_uncaught_exception() {
    std::string what = "std::terminate was called without an active exception";
    if (auto error = std::current_exception()) {
        try {
            std::rethrow_exception(error);
        } catch (const std::exception& e) {
            what = std::string("uncaught exception: ") + e.what();
        } catch (...) {
            what = "uncaught exception of a non-standard type";
        }
    }
    if (mpi_running()) abort(what);
    std::fprintf(stderr, "lazynn.distributed: %s\n", what.c_str());
    std::abort();
}

void cache_topology() {
    detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &cached_rank), "MPI_Comm_rank");
    detail::check(MPI_Comm_size(MPI_COMM_WORLD, &cached_world_size), "MPI_Comm_size");
    MPI_Comm node;
    detail::check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, cached_rank, MPI_INFO_NULL, &node),
                  "MPI_Comm_split_type");
    detail::check(MPI_Comm_rank(node, &cached_local_rank), "MPI_Comm_rank");
    MPI_Comm_free(&node);
}

}  // namespace

namespace detail {

void check(int code, const char* what) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw DistributedError(std::string(what) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
}

void require_initialized(const char* what) {
    if (!mpi_running()) {
        throw DistributedError(std::string(what) +
                               ": the process group is not initialised; call lazynn::distributed::init() "
                               "(or create a distributed::Environment) first");
    }
    if (cached_rank < 0) {  // MPI was started by the application itself
        cache_topology();
        open_groups();
    }
}

MPI_Datatype mpi_type(Dtype dtype) {
    switch (dtype) {
        case kFloat32:
            return MPI_FLOAT;
        case kFloat64:
            return MPI_DOUBLE;
        case kInt64:
            return MPI_INT64_T;
        case kBool:
            return MPI_CXX_BOOL;  // moves data (broadcast, gather); MPI refuses arithmetic reductions on it
        case kBFloat16:
        case kFloat16:
            // MPI has no 16-bit floating type: the values move bit for bit as 16-bit words, and
            // reductions run on a float32 copy instead (reduction_copy), never on these words.
            return MPI_UINT16_T;
    }
    throw DtypeError("distributed: no MPI type for " + dtype_name(dtype));
}

MPI_Op mpi_op(ReduceOp op) {
    switch (op) {
        case ReduceOp::Sum:
        case ReduceOp::Mean:
            return MPI_SUM;
        case ReduceOp::Max:
            return MPI_MAX;
        case ReduceOp::Min:
            return MPI_MIN;
        case ReduceOp::Product:
            return MPI_PROD;
    }
    throw ValueError("distributed: unknown ReduceOp");
}

void* contiguous_data(const Tensor& tensor, const char* what) {
    if (!tensor.defined()) throw ValueError(std::string(what) + ": the tensor is undefined");
    if (tensor.is_uninitialized()) {
        throw ValueError(std::string(what) + ": the tensor is an uninitialized parameter; run a forward first");
    }
    if (!tensor.is_contiguous()) {
        throw ValueError(std::string(what) + ": the tensor must be contiguous (call .contiguous() first)");
    }
    Tensor& t = const_cast<Tensor&>(tensor);  // the handle is shared; MPI writes the storage
    switch (t.dtype()) {
        case kFloat32:
            return t.data_ptr<float>();
        case kFloat64:
            return t.data_ptr<double>();
        case kInt64:
            return t.data_ptr<std::int64_t>();
        case kBool:
            return t.data_ptr<bool>();
        case kBFloat16:
            return t.data_ptr<BFloat16>();
        case kFloat16:
            return t.data_ptr<Half>();
    }
    throw DtypeError(std::string(what) + ": collectives do not take " + dtype_name(t.dtype()) + " tensors");
}

}  // namespace detail

void init(int* argc, char*** argv, const ProcessGroupOptions& options) {
    set_timeout(options.timeout_);
    int initialized = 0;
    detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized) {
        int provided = 0;
        detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    }
    // Report errors as codes (turned into exceptions) instead of MPI's default of aborting silently.
    detail::check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    cache_topology();
    detail::open_groups();
    std::set_terminate(abort_on_uncaught_exception);
}

bool is_initialized() { return mpi_running(); }

void finalize() {
    if (!mpi_running()) return;
    detail::require_initialized("finalize");
    // Everyone must be here before MPI_Finalize (which would otherwise wait forever for a rank
    // still inside a collective); a rank that leaves early makes the others' collectives time out.
    detail::check_same_call(detail::default_group(), detail::Op::Finalize, 0, nullptr);
    detail::close_groups();
    MPI_Finalize();
    cached_rank = cached_world_size = cached_local_rank = -1;
}

void set_timeout(std::chrono::milliseconds timeout) {
    if (timeout.count() <= 0) {
        throw ValueError("distributed::set_timeout: the timeout must be positive, got " +
                         std::to_string(timeout.count()) + " ms");
    }
    detail::group_timeout() = timeout;
}

std::chrono::milliseconds timeout() { return detail::group_timeout(); }

bool is_broken() { return !detail::broken_reason().empty(); }

int rank() {
    detail::require_initialized("rank");
    return cached_rank;
}

int world_size() {
    detail::require_initialized("world_size");
    return cached_world_size;
}

int local_rank() {
    detail::require_initialized("local_rank");
    return cached_local_rank;
}

std::string processor_name() {
    detail::require_initialized("processor_name");
    char name[MPI_MAX_PROCESSOR_NAME];
    int length = 0;
    detail::check(MPI_Get_processor_name(name, &length), "MPI_Get_processor_name");
    return std::string(name, static_cast<std::size_t>(length));
}

void barrier() {
    detail::require_initialized("barrier");
    detail::check_same_call(detail::default_group(), detail::Op::Barrier, 0, nullptr);
}

void abort(const std::string& message, int exit_code) {
    std::fprintf(stderr, "lazynn.distributed: rank %d aborting the job: %s\n", cached_rank, message.c_str());
    std::fflush(stderr);
    // After a collective gave up, the peers are still reporting theirs: let them finish before
    // mpirun stops every process.
    if (is_broken() && mpi_running()) std::this_thread::sleep_for(detail::grace_period());
    if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
}

Environment::Environment(int& argc, char**& argv, const ProcessGroupOptions& options)
    : uncaught_at_start_(std::uncaught_exceptions()) {
    init(&argc, &argv, options);
}
Environment::Environment(const ProcessGroupOptions& options) : uncaught_at_start_(std::uncaught_exceptions()) {
    init(nullptr, nullptr, options);
}

Environment::~Environment() {
    if (std::uncaught_exceptions() > uncaught_at_start_ && mpi_running() && cached_world_size > 1) {
        abort("an exception is propagating out of the scope that owns the MPI environment");
    }
    try {
        finalize();
    } catch (const std::exception& e) {
        abort(e.what());
    }
}

}  // namespace lazynn::distributed
