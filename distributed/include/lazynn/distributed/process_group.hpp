#pragma once
// The process group: every process started by `mpirun -np N` is one rank of one group.
//
//     int main(int argc, char** argv) {
//         lazynn::distributed::Environment mpi(argc, argv);      // MPI_Init ... MPI_Finalize
//         if (lazynn::distributed::rank() == 0) std::cout << "world of " << world_size() << "\n";
//     }
//
// Failure policy: a rank that dies must not leave the others waiting in a collective forever.
// init() installs a std::terminate handler that prints the exception and calls MPI_Abort, which
// makes mpirun stop every rank; code that catches an error and wants to stop calls abort().

#include <lazynn/error.hpp>

#include <string>

namespace lazynn::distributed {

/// MPI reported an error, or the ranks disagree about what a collective should do.
class DistributedError : public RuntimeError {
public:
    using RuntimeError::RuntimeError;
};

/// Starts MPI (thread level "serialized") unless it is running already; safe to call twice.
/// Outside mpirun this makes a group of one. Also installs the abort-on-uncaught-exception handler.
void init(int* argc = nullptr, char*** argv = nullptr);
/// Whether init() (or the application's own MPI_Init) has run and finalize() has not.
bool is_initialized();
/// Shuts MPI down; a no-op when it is not running. Every rank must call it.
void finalize();

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
/// runs during stack unwinding (the other ranks may be waiting in a collective).
/// Not copyable or movable.
class Environment {
public:
    Environment(int& argc, char**& argv);
    Environment();
    ~Environment();
    Environment(const Environment&) = delete;
    Environment& operator=(const Environment&) = delete;

private:
    int uncaught_at_start_;
};

}  // namespace lazynn::distributed
