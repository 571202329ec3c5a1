// Run by run_hostfile_launch.sh through a hostfile: each rank prints what a rank on another host
// would need to see (world, its host, the forwarded environment) and checks one DDP step.
#include <lazynn/distributed.hpp>
#include <lazynn/lazynn.hpp>

#include <cstdio>
#include <cstdlib>

namespace dist = lazynn::distributed;
using namespace lazynn;

int main(int argc, char** argv) {
    dist::Environment mpi(argc, argv, dist::ProcessGroupOptions().timeout(std::chrono::seconds(30)));
    Tensor t = full({1}, dist::rank() + 1.0);
    dist::all_reduce(t);
    manual_seed(static_cast<std::uint64_t>(dist::rank()));  // different initial weights on every rank
    nn::Linear model(3, 2);
    dist::DistributedDataParallel ddp(model);
    optim::SGD opt(model.parameters(), optim::SGDOptions(0.1));
    ddp(full({2, 3}, dist::rank() + 1.0)).sum().backward();
    opt.step();
    const std::vector<Tensor> weights = dist::all_gather(model.weight.detach());
    bool same = true;
    for (const Tensor& w : weights) same = same && (w - weights[0]).abs().max().item<double>() == 0;
    const char* token = std::getenv("LAZYNN_LAUNCH_TOKEN");
    const char* threads = std::getenv("OPENBLAS_NUM_THREADS");
    std::printf("rank %d of %d on %s: local_rank %d, token %s, OPENBLAS_NUM_THREADS %s, sum %g, same weights %s\n",
                dist::rank(), dist::world_size(), dist::processor_name().c_str(), dist::local_rank(),
                token ? token : "(unset)", threads ? threads : "(unset)", t.item<double>(), same ? "yes" : "no");
    return same ? 0 : 1;
}
