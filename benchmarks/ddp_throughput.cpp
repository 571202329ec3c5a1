// Data-parallel training throughput: the Fashion-MNIST sample's CNN on synthetic 28x28 batches
// (64 per rank), Adam, one thread per rank. Prints samples/s over all ranks for the table in
// docs/distributed.md. Run: mpirun -np N build/benchmarks/lazynn_ddp_throughput [steps]
#include <lazynn/distributed.hpp>
#include <lazynn/lazynn.hpp>

#include "step_timer.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>

using namespace lazynn;
namespace dist = lazynn::distributed;

namespace {

struct Cnn : Cloneable<Cnn> {
    nn::Sequential features{this,
                            "features",
                            nn::LazyConv2d(32, 3),
                            nn::LazyBatchNorm2d(),
                            nn::ReLU(),
                            nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                            nn::LazyConv2d(64, 3),
                            nn::LazyBatchNorm2d(),
                            nn::ReLU(),
                            nn::MaxPool2d(nn::MaxPoolOptions<2>(2))};
    nn::Flatten flatten{this, "flatten"};
    nn::Sequential classifier{this,       "classifier",      nn::LazyLinear(128),
                              nn::ReLU(), nn::Dropout(0.25), nn::LazyLinear(10)};
    // Shapes: x [N, 1, 28, 28] -> logits [N, 10].
    Tensor forward(const Tensor& x) override { return classifier(flatten(features(x))); }
};

}  // namespace

int main(int argc, char** argv) {
    dist::Environment mpi(argc, argv);
    const int steps = bench::count_arg(argc, argv, "STEPS", 20, 1, 1000000);
    constexpr std::int64_t kBatch = 64;
    set_num_threads(1);
    manual_seed(0);
    Cnn model;
    dist::DistributedDataParallel ddp(model);
    optim::Adam opt(model.parameters(), optim::AdamOptions(1e-3));
    manual_seed(1 + static_cast<std::uint64_t>(dist::rank()));
    const Tensor x = randn({kBatch, 1, 28, 28});
    const Tensor y = randint(0, 10, {kBatch});
    auto step = [&] {
        opt.zero_grad();
        nn::functional::cross_entropy(ddp(x), y).backward();
        opt.step();
    };
    for (int i = 0; i < 3; ++i) step();  // materialise, warm up
    dist::barrier();
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < steps; ++i) step();
    Tensor seconds = full({1}, std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                          TensorOptions().dtype(kFloat64));
    dist::all_reduce(seconds, dist::ReduceOp::Max);  // the slowest rank sets the pace
    const double s = seconds.item<double>();
    const double samples = static_cast<double>(dist::world_size()) * kBatch * steps;
    if (dist::rank() == 0) {
        std::printf("ranks %d  batch/rank %lld  steps %d  seconds %.2f  ms/step %.1f  samples/s %.0f\n",
                    dist::world_size(), static_cast<long long>(kBatch), steps, s, 1000 * s / steps, samples / s);
    }
}
