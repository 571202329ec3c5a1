// doctest main for suites that run under mpirun: every rank runs every case in the same order;
// the job fails if any rank failed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <lazynn/distributed.hpp>

#include <mpi.h>

int main(int argc, char** argv) {
    // A test that hangs fails after a minute instead of at ctest's limit.
    lazynn::distributed::Environment mpi(argc, argv,
                                         lazynn::distributed::ProcessGroupOptions().timeout(std::chrono::seconds(60)));
    doctest::Context context(argc, argv);
    if (lazynn::distributed::rank() != 0) context.setOption("minimal", true);  // one report, from rank 0
    int failed = context.run() != 0 ? 1 : 0;
    MPI_Allreduce(MPI_IN_PLACE, &failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return failed;
}
