// Uses the installed lazynn::distributed component: a one-rank group outside mpirun.
#include <lazynn/distributed.hpp>
#include <lazynn/lazynn.hpp>

#include <iostream>

int main(int argc, char** argv) {
    namespace dist = lazynn::distributed;
    dist::Environment mpi(argc, argv);
    lazynn::Tensor t = lazynn::ones({3});
    dist::all_reduce(t, dist::ReduceOp::Sum);
    const bool ok = dist::world_size() == 1 && t.sum().item<float>() == 3.0f;
    std::cout << "consumer_distributed: world " << dist::world_size() << (ok ? " (ok)" : " (WRONG)") << "\n";
    return ok ? 0 : 1;
}
