// Micro-benchmarks of the SIMD kernels (framework/src/simd): elementwise math and activations,
// 2x2 max pooling, batch and layer norm, batch norm + ReLU + pooling, and 3x3 convolutions. One
// thread by default (LAZYNN_BENCH_THREADS), so the figures are of the kernels; LAZYNN_SIMD picks
// the architecture.
#include <lazynn/lazynn.hpp>

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <functional>

using namespace lazynn;

namespace {

const int kThreads = [] {
    const char* v = std::getenv("LAZYNN_BENCH_THREADS");
    const int threads = v ? std::atoi(v) : 1;
    set_num_threads(threads);
    return threads;
}();

constexpr std::int64_t kElements = std::int64_t{1} << 20;

/// op(x) on kElements values of `dtype` drawn from [low, high), no autograd.
void run_unary(benchmark::State& state, Dtype dtype, double low, double high,
               const std::function<Tensor(const Tensor&)>& op) {
    const Tensor x = (rand({kElements}) * (high - low) + low).to(dtype);
    NoGradGuard no_grad;
    for (auto _ : state) benchmark::DoNotOptimize(op(x));
    state.SetItemsProcessed(state.iterations() * kElements);
}

/// op(x) and its backward on kElements float32 values in [-6, 6).
void run_with_backward(benchmark::State& state, const std::function<Tensor(const Tensor&)>& op) {
    const Tensor x = (rand({kElements}) * 12.0 - 6.0).requires_grad_();
    for (auto _ : state) {
        op(x).sum().backward();
        x.set_grad(Tensor());
    }
    state.SetItemsProcessed(state.iterations() * kElements);
}

}  // namespace

BENCHMARK_CAPTURE(run_unary, exp_f32, kFloat32, -10.0, 10.0, [](const Tensor& t) { return t.exp(); });
BENCHMARK_CAPTURE(run_unary, log_f32, kFloat32, 0.01, 100.0, [](const Tensor& t) { return t.log(); });
BENCHMARK_CAPTURE(run_unary, sin_f32, kFloat32, -10.0, 10.0, [](const Tensor& t) { return t.sin(); });
BENCHMARK_CAPTURE(run_unary, cos_f32, kFloat32, -10.0, 10.0, [](const Tensor& t) { return t.cos(); });
BENCHMARK_CAPTURE(run_unary, sqrt_f32, kFloat32, 0.0, 100.0, [](const Tensor& t) { return t.sqrt(); });
BENCHMARK_CAPTURE(run_unary, softplus_f32, kFloat32, -10.0, 10.0,
                  [](const Tensor& t) { return t.softplus(1.0, 20.0); });
BENCHMARK_CAPTURE(run_unary, tanh_f32, kFloat32, -6.0, 6.0, [](const Tensor& t) { return t.tanh(); });
BENCHMARK_CAPTURE(run_unary, sigmoid_f32, kFloat32, -10.0, 10.0, [](const Tensor& t) { return t.sigmoid(); });
BENCHMARK_CAPTURE(run_unary, silu_f32, kFloat32, -10.0, 10.0, [](const Tensor& t) { return t.silu(); });
BENCHMARK_CAPTURE(run_unary, gelu_f32, kFloat32, -6.0, 6.0, [](const Tensor& t) { return t.gelu(); });
BENCHMARK_CAPTURE(run_unary, gelu_tanh_f32, kFloat32, -6.0, 6.0, [](const Tensor& t) { return t.gelu(true); });
BENCHMARK_CAPTURE(run_unary, exp_f64, kFloat64, -10.0, 10.0, [](const Tensor& t) { return t.exp(); });
BENCHMARK_CAPTURE(run_unary, log_f64, kFloat64, 0.01, 100.0, [](const Tensor& t) { return t.log(); });
BENCHMARK_CAPTURE(run_unary, sin_f64, kFloat64, -10.0, 10.0, [](const Tensor& t) { return t.sin(); });
BENCHMARK_CAPTURE(run_unary, softplus_f64, kFloat64, -10.0, 10.0,
                  [](const Tensor& t) { return t.softplus(1.0, 20.0); });

BENCHMARK_CAPTURE(run_with_backward, gelu_f32, [](const Tensor& t) { return t.gelu(); });
BENCHMARK_CAPTURE(run_with_backward, gelu_tanh_f32, [](const Tensor& t) { return t.gelu(true); });
BENCHMARK_CAPTURE(run_with_backward, silu_f32, [](const Tensor& t) { return t.silu(); });

/// 2x2 max pooling forward + backward on [64, 32, size, size] float32.
static void BM_MaxPool2x2(benchmark::State& state) {
    nn::MaxPool2d pool(nn::MaxPoolOptions<2>(2));
    const Tensor x = randn({64, 32, state.range(0), state.range(0)}).requires_grad_();
    for (auto _ : state) {
        pool(x).sum().backward();
        x.set_grad(Tensor());
    }
}
BENCHMARK(BM_MaxPool2x2)->Arg(26)->Arg(12);

/// BatchNorm2d(32) in training, forward + backward on [64, 32, 26, 26].
static void BM_BatchNorm2d(benchmark::State& state) {
    nn::BatchNorm2d norm(32);
    const Tensor x = randn({64, 32, 26, 26}).requires_grad_();
    for (auto _ : state) {
        norm(x).sum().backward();
        x.set_grad(Tensor());
        norm.zero_grad();
    }
}
BENCHMARK(BM_BatchNorm2d);

/// BatchNorm2d, ReLU and 2x2 max pooling in training through Sequential (one fused op), forward +
/// backward on [64, C, size, size]: the Fashion-MNIST sample's two blocks.
static void BM_BatchNormReLUMaxPool2x2(benchmark::State& state) {
    const std::int64_t channels = state.range(0), size = state.range(1);
    nn::Sequential block{nn::BatchNorm2d(channels), nn::ReLU(), nn::MaxPool2d(nn::MaxPoolOptions<2>(2))};
    const Tensor x = randn({64, channels, size, size}).requires_grad_();
    for (auto _ : state) {
        block(x).sum().backward();
        x.set_grad(Tensor());
        block.zero_grad();
    }
}
BENCHMARK(BM_BatchNormReLUMaxPool2x2)->Args({32, 26})->Args({64, 11});

/// LayerNorm(256), forward + backward on [2048, 256].
static void BM_LayerNorm(benchmark::State& state) {
    nn::LayerNorm norm({256});
    const Tensor x = randn({2048, 256}).requires_grad_();
    for (auto _ : state) {
        norm(x).sum().backward();
        x.set_grad(Tensor());
        norm.zero_grad();
    }
}
BENCHMARK(BM_LayerNorm);

/// A 3x3 convolution with 32 channels on 26x26 maps, forward only (oneDNN, not a SIMD kernel of ours: for scale).
static void BM_Conv2d3x3(benchmark::State& state) {
    nn::Conv2d conv(nn::Conv2dOptions(32, 32, 3).padding(1));
    const Tensor x = randn({32, 32, 26, 26});
    NoGradGuard no_grad;
    for (auto _ : state) benchmark::DoNotOptimize(conv(x));
}
BENCHMARK(BM_Conv2d3x3);

/// A 3x3 stride-2 convolution, forward + backward: im2col and col2im.
static void BM_Conv2dIm2col(benchmark::State& state) {
    nn::Conv2d conv(nn::Conv2dOptions(16, 32, 3).stride(2));
    const Tensor x = randn({32, 16, 27, 27}).requires_grad_();
    for (auto _ : state) {
        conv(x).sum().backward();
        x.set_grad(Tensor());
        conv.zero_grad();
    }
}
BENCHMARK(BM_Conv2dIm2col);

BENCHMARK_MAIN();
