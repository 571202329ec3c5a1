// Scenarios for run_timeout_probe.sh, each under `mpirun -np 2` with a 2-second timeout: a rank
// that leaves or stalls must make every rank throw DistributedError naming the collective and the
// ranks that did not arrive, and the job must end instead of hanging.
//   early-return  rank 1 returns from main (its Environment finalizes) while rank 0 trains a step
//   busy          the last rank computes past the timeout while the others wait in all_reduce, then
//                 calls it too
#include <lazynn/distributed.hpp>
#include <lazynn/lazynn.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace dist = lazynn::distributed;

namespace {

void report(const dist::DistributedError& e) {
    std::printf("rank %d caught: %s\n", dist::rank(), e.what());
    std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string scenario = argc > 1 ? argv[1] : "";
    dist::Environment mpi(argc, argv, dist::ProcessGroupOptions().timeout(std::chrono::seconds(2)));
    if (scenario == "early-return") {
        lazynn::manual_seed(0);
        lazynn::nn::Linear model(4, 2);
        dist::DistributedDataParallel ddp(model);
        if (dist::rank() == 1) return 0;  // leaves early; its Environment's finalize waits (timed)
        try {
            ddp(lazynn::ones({3, 4})).sum().backward();
        } catch (const dist::DistributedError& e) {
            report(e);
        }
        return 0;  // finalize on a broken group aborts the job
    }
    if (scenario == "busy") {
        const bool late = dist::rank() == dist::world_size() - 1;
        if (late) std::this_thread::sleep_for(std::chrono::seconds(4));  // "computing"
        try {
            dist::all_reduce(lazynn::ones({4}));
        } catch (const dist::DistributedError& e) {
            report(e);
        }
        if (!late) std::this_thread::sleep_for(std::chrono::seconds(4));  // let the late rank report too
        return 0;
    }
    std::fprintf(stderr, "usage: timeout_probe early-return|busy\n");
    return 2;
}
