// Kernel micro-benchmarks: the GEMM shapes of linear layers (forward and backward), conv forward
// and backward, elementwise ops and reductions, softmax/cross-entropy, and optimizer updates.
#include <lazynn/lazynn.hpp>

#include <benchmark/benchmark.h>

using namespace lazynn;

static void BM_LinearForward(benchmark::State& state) {
    const auto batch = state.range(0);
    nn::Linear fc(784, 256);
    const Tensor x = randn({batch, 784});
    NoGradGuard no_grad;
    for (auto _ : state) benchmark::DoNotOptimize(fc(x));
    state.SetItemsProcessed(state.iterations() * batch * 784 * 256 * 2);
}
BENCHMARK(BM_LinearForward)->Arg(1)->Arg(64)->Arg(1024);

static void BM_LinearForwardBackward(benchmark::State& state) {
    nn::Linear fc(784, 256);
    const Tensor x = randn({state.range(0), 784});
    for (auto _ : state) {
        fc(x).sum().backward();
        fc.zero_grad();
    }
}
BENCHMARK(BM_LinearForwardBackward)->Arg(64)->Arg(256);

static void BM_Conv2dForwardBackward(benchmark::State& state) {
    nn::Conv2d conv(32, 64, 3);
    const Tensor x = randn({64, 32, 13, 13});
    for (auto _ : state) {
        conv(x).sum().backward();
        conv.zero_grad();
    }
}
BENCHMARK(BM_Conv2dForwardBackward);

static void BM_AddBroadcast(benchmark::State& state) {
    const Tensor a = randn({64, 32, 26, 26}), b = randn({1, 32, 1, 1});
    for (auto _ : state) benchmark::DoNotOptimize(a + b);
}
BENCHMARK(BM_AddBroadcast);

static void BM_SumDim(benchmark::State& state) {
    const Tensor a = randn({256, 1024});
    for (auto _ : state) benchmark::DoNotOptimize(a.sum({1}));
}
BENCHMARK(BM_SumDim);

static void BM_CrossEntropy(benchmark::State& state) {
    const Tensor logits = randn({256, 10}).requires_grad_();
    const Tensor y = randint(0, 10, {256});
    for (auto _ : state) {
        nn::functional::cross_entropy(logits, y).backward();
        logits.set_grad(Tensor());
    }
}
BENCHMARK(BM_CrossEntropy);

static void BM_AdamStep(benchmark::State& state) {
    Parameter p(randn({256, 784}));
    p.set_grad(randn({256, 784}));
    optim::Adam adam({p}, optim::AdamOptions(1e-3));
    for (auto _ : state) adam.step();
    state.SetItemsProcessed(state.iterations() * 256 * 784);
}
BENCHMARK(BM_AdamStep);

BENCHMARK_MAIN();
