// Kernel micro-benchmarks: the GEMM shapes of linear layers (forward and backward), conv forward
// and backward, elementwise ops and reductions, softmax/cross-entropy, and optimizer updates.
#include <lazynn/lazynn.hpp>

#include <benchmark/benchmark.h>
#include <cblas.h>

#include <cstdlib>
#include <vector>

using namespace lazynn;

namespace {
/// Threads for every benchmark: LAZYNN_BENCH_THREADS (default 2).
int bench_threads() {
    const char* v = std::getenv("LAZYNN_BENCH_THREADS");
    return v ? std::atoi(v) : 2;
}
const int kThreads = [] {
    set_num_threads(bench_threads());
    return bench_threads();
}();
}  // namespace

// The reference rate: OpenBLAS's own sgemm, with its own threads, on the MLP's inference shapes
// (C[m, n] = A[m, k] B[k, n]^T as a linear layer computes). lazynn keeps OpenBLAS single-threaded
// and splits GEMMs itself, so this raises OpenBLAS's thread count for the call and restores it.
static void BM_OpenBlasSgemm(benchmark::State& state) {
    const auto m = state.range(0), k = state.range(1), n = state.range(2);
    std::vector<float> a(static_cast<std::size_t>(m * k), 0.5f), b(static_cast<std::size_t>(n * k), 0.25f),
        c(static_cast<std::size_t>(m * n));
    openblas_set_num_threads(kThreads);
    for (auto _ : state) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<blasint>(m), static_cast<blasint>(n),
                    static_cast<blasint>(k), 1.0f, a.data(), static_cast<blasint>(k), b.data(), static_cast<blasint>(k),
                    0.0f, c.data(), static_cast<blasint>(n));
        benchmark::DoNotOptimize(c.data());
    }
    openblas_set_num_threads(1);
    state.counters["GFLOPS"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(m * n * k),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_OpenBlasSgemm)
    ->UseRealTime()
    ->Args({1024, 784, 256})
    ->Args({1024, 256, 128})
    ->Args({64, 784, 256})
    ->Args({1, 784, 256});

// The same products through lazynn (split across its own threads).
static void BM_Matmul(benchmark::State& state) {
    const auto m = state.range(0), k = state.range(1), n = state.range(2);
    const Tensor a = full({m, k}, 0.5), b = full({n, k}, 0.25);
    NoGradGuard no_grad;
    for (auto _ : state) benchmark::DoNotOptimize(a.matmul(b.transpose(0, 1)));
    state.counters["GFLOPS"] =
        benchmark::Counter(static_cast<double>(state.iterations()) * 2.0 * static_cast<double>(m * n * k),
                           benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Matmul)
    ->UseRealTime()
    ->Args({1024, 784, 256})
    ->Args({1024, 256, 128})
    ->Args({64, 784, 256})
    ->Args({1, 784, 256});

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

// Sorting and selection along the last dim of [rows, n] (issue 21's sort/topk), gather by int64
// indices, cumsum and einsum: benchmarks/torch_micro_ops.py times the same ops in PyTorch.
static void BM_SortLastDim(benchmark::State& state) {
    const Tensor x = randn({256, state.range(0)});
    for (auto _ : state) benchmark::DoNotOptimize(x.sort(-1).values);
    state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_SortLastDim)->UseRealTime()->Arg(64)->Arg(4096);

static void BM_TopkLastDim(benchmark::State& state) {
    const Tensor x = randn({256, 4096});
    for (auto _ : state) benchmark::DoNotOptimize(x.topk(state.range(0)).values);
    state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_TopkLastDim)->UseRealTime()->Arg(1)->Arg(64);

static void BM_Gather(benchmark::State& state) {
    const Tensor x = randn({1024, 512});
    const Tensor index = randint(0, 512, {1024, 512});
    for (auto _ : state) benchmark::DoNotOptimize(x.gather(1, index));
    state.SetItemsProcessed(state.iterations() * index.numel());
}
BENCHMARK(BM_Gather)->UseRealTime();

static void BM_CumsumDim0(benchmark::State& state) {
    const Tensor x = randn({1024, 512});  // a scan down the rows: parallel across the 512 columns
    for (auto _ : state) benchmark::DoNotOptimize(x.cumsum(0));
    state.SetItemsProcessed(state.iterations() * x.numel());
}
BENCHMARK(BM_CumsumDim0)->UseRealTime();

static void BM_EinsumAttentionScores(benchmark::State& state) {
    const Tensor q = randn({8, 4, 64, 32}), k = randn({8, 4, 64, 32});
    for (auto _ : state) benchmark::DoNotOptimize(einsum("bhqd,bhkd->bhqk", {q, k}));
}
BENCHMARK(BM_EinsumAttentionScores)->UseRealTime();

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

static void BM_MaxPool2d(benchmark::State& state) {
    nn::MaxPool2d pool(nn::MaxPoolOptions<2>(2));
    const Tensor x = randn({64, 32, 26, 26}).requires_grad_();
    for (auto _ : state) {
        pool(x).sum().backward();
        x.set_grad(Tensor());
    }
}
BENCHMARK(BM_MaxPool2d);

static void BM_ReluLarge(benchmark::State& state) {
    const Tensor x = randn({64, 32, 26, 26});
    for (auto _ : state) benchmark::DoNotOptimize(x.relu());
    state.SetBytesProcessed(state.iterations() * x.numel() * 8);
}
BENCHMARK(BM_ReluLarge);

static void BM_Softmax(benchmark::State& state) {
    const Tensor x = randn({256, 1000});
    for (auto _ : state) benchmark::DoNotOptimize(x.softmax(1));
}
BENCHMARK(BM_Softmax);

BENCHMARK_MAIN();
