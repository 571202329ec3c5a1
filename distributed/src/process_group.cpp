#include "mpi_support.hpp"

#include <cstdio>
#include <cstdlib>
#include <exception>

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
    if (cached_rank < 0) cache_topology();  // MPI was started by the application itself
}

MPI_Datatype mpi_type(Dtype dtype) {
    switch (dtype) {
        case kFloat32: return MPI_FLOAT;
        case kFloat64: return MPI_DOUBLE;
        case kInt64: return MPI_INT64_T;
    }
    throw DtypeError("distributed: unsupported dtype " + dtype_name(dtype));
}

MPI_Op mpi_op(ReduceOp op) {
    switch (op) {
        case ReduceOp::Sum:
        case ReduceOp::Mean: return MPI_SUM;
        case ReduceOp::Max: return MPI_MAX;
        case ReduceOp::Min: return MPI_MIN;
        case ReduceOp::Product: return MPI_PROD;
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
        case kFloat32: return t.data_ptr<float>();
        case kFloat64: return t.data_ptr<double>();
        case kInt64: return t.data_ptr<std::int64_t>();
    }
    throw DtypeError(std::string(what) + ": unsupported dtype");
}

}  // namespace detail

void init(int* argc, char*** argv) {
    int initialized = 0;
    detail::check(MPI_Initialized(&initialized), "MPI_Initialized");
    if (!initialized) {
        int provided = 0;
        detail::check(MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
    }
    // Report errors as codes (turned into exceptions) instead of MPI's default of aborting silently.
    detail::check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
    cache_topology();
    std::set_terminate(abort_on_uncaught_exception);
}

bool is_initialized() { return mpi_running(); }

void finalize() {
    if (!mpi_running()) return;
    MPI_Finalize();
    cached_rank = cached_world_size = cached_local_rank = -1;
}

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
    detail::check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void abort(const std::string& message, int exit_code) {
    std::fprintf(stderr, "lazynn.distributed: rank %d aborting the job: %s\n", cached_rank, message.c_str());
    std::fflush(stderr);
    if (mpi_running()) MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
}

Environment::Environment(int& argc, char**& argv) : uncaught_at_start_(std::uncaught_exceptions()) { init(&argc, &argv); }
Environment::Environment() : uncaught_at_start_(std::uncaught_exceptions()) { init(); }

Environment::~Environment() {
    if (std::uncaught_exceptions() > uncaught_at_start_ && mpi_running() && cached_world_size > 1) {
        abort("an exception is propagating out of the scope that owns the MPI environment");
    }
    finalize();
}

}  // namespace lazynn::distributed
