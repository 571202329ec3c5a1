// Rank 1 throws out of main while rank 0 waits in a collective: the job must end, not hang.
#include <lazynn/distributed.hpp>

#include <stdexcept>

int main(int argc, char** argv) {
    lazynn::distributed::init(&argc, &argv);
    if (lazynn::distributed::rank() == 1) throw std::runtime_error("deliberate failure on rank 1");
    lazynn::distributed::all_reduce(lazynn::ones({4}));  // never completes: rank 1 is gone
    lazynn::distributed::finalize();
    return 0;
}
