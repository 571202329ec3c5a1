#pragma once
// The process group: every process started by `mpirun -np N` is one rank of one group.
//
//     int main(int argc, char** argv) {
//         lazynn::distributed::Environment mpi(argc, argv);      // MPI_Init ... MPI_Finalize
//         if (lazynn::distributed::rank() == 0) std::cout << "world of " << world_size() << "\n";
//     }
//
// Failure policy: a rank that dies or leaves must not leave the others waiting forever.
//   - init() installs a std::terminate handler that prints the exception and calls MPI_Abort,
//     which makes mpirun stop every rank; code that catches an error and wants to stop calls abort().
//   - Every collective (and DDP's gradient exchange) gives up after the group's timeout (default
//     30 minutes, PyTorch's): every rank then throws DistributedError naming the collective and the
//     ranks that did not arrive. MPI cannot cancel a started collective, so after that the group is
//     unusable: further collectives throw at once and finalize() aborts the job (docs/distributed.md).

#include <lazynn/error.hpp>

#include <chrono>
#include <string>

namespace lazynn::distributed {

/// MPI reported an error, or the ranks disagree about what a collective should do.
class DistributedError : public RuntimeError {
public:
    using RuntimeError::RuntimeError;
};

/// Options of the process group (PyTorch's init_process_group arguments that apply to MPI).
struct ProcessGroupOptions {
    /// How long a collective may wait for the other ranks before every rank gives up (PyTorch's
    /// default: 30 minutes). Must be positive.
    ProcessGroupOptions& timeout(std::chrono::milliseconds v) {
        timeout_ = v;
        return *this;
    }
    std::chrono::milliseconds timeout_ = std::chrono::minutes(30);
};

/// Starts MPI (thread level "serialized") unless it is running already; safe to call twice (the
/// options of the last call apply). Outside mpirun this makes a group of one. Also installs the
/// abort-on-uncaught-exception handler.
void init(int* argc = nullptr, char*** argv = nullptr, const ProcessGroupOptions& options = {});
/// Whether init() (or the application's own MPI_Init) has run and finalize() has not.
bool is_initialized();
/// Waits (with the timeout) until every rank has called it, then shuts MPI down; a no-op when MPI is
/// not running. Every rank must call it. Throws DistributedError if the ranks do not all arrive (a
/// rank still in a collective) or the group broke earlier: end the job then (abort()).
void finalize();

/// The timeout of every collective started from now on; ValueError unless positive.
void set_timeout(std::chrono::milliseconds timeout);
std::chrono::milliseconds timeout();
/// Whether a collective gave up (timeout, or a rank left): the group cannot be used any more.
bool is_broken();

/// This process's rank in [0, world_size()); throws DistributedError before init().
int rank();
/// Number of processes in the group; throws DistributedError before init().
int world_size();
/// This process's index among the ranks on the same machine (for pinning threads or devices).
int local_rank();
/// Processor (host) name, as MPI reports it.
std::string processor_name();
/// Blocks until every rank has reached it.
void barrier();

/// Prints "lazynn.distributed: rank R aborting the job: MESSAGE" to stderr and stops every rank
/// (MPI_Abort). Use it instead of returning from main after an error another rank cannot see.
[[noreturn]] void abort(const std::string& message, int exit_code = 1);

/// RAII: init() in the constructor, finalize() in the destructor, or abort() when the destructor
/// runs during stack unwinding (the other ranks may be waiting in a collective) or finalize() fails.
/// Not copyable or movable.
class Environment {
public:
    Environment(int& argc, char**& argv, const ProcessGroupOptions& options = {});
    explicit Environment(const ProcessGroupOptions& options = {});
    ~Environment();
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;

private:
    int uncaught_at_start_;
};

}  // namespace lazynn::distributed
