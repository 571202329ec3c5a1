// The end-to-end workloads of docs/performance.md: one training step (forward, loss, backward,
// optimizer step, zero_grad) or one no-grad inference, timed as the median over repeats.
// Output: one "name milliseconds" line per workload; benchmarks/torch_workloads.py prints the same
// for PyTorch and run_side_by_side.sh joins them.
#include <lazynn/lazynn.hpp>

#include "step_timer.hpp"

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

using namespace lazynn;

using bench::median_ms;
using bench::report;

namespace {

nn::Sequential mlp(std::int64_t in, std::int64_t h1, std::int64_t h2, std::int64_t out) {
    if (h2 == 0) return nn::Sequential(nn::Linear(in, h1), nn::ReLU(), nn::Linear(h1, out));
    return nn::Sequential(nn::Linear(in, h1), nn::ReLU(), nn::Linear(h1, h2), nn::ReLU(), nn::Linear(h2, out));
}

/// One training step; with `autocast`, the forward and the loss run under AutocastGuard (bfloat16).
template <class Optimizer, class Options>
double train_step_ms(nn::Sequential& model, Options options, const Tensor& x, const Tensor& y, bool classification,
                     int repeats, bool autocast = false) {
    Optimizer opt(model.parameters(), options);
    auto step = [&] {
        Tensor loss;
        {
            std::optional<AutocastGuard> guard;
            if (autocast) guard.emplace(kBFloat16);
            Tensor out = model(x);
            loss = classification ? nn::functional::cross_entropy(out, y) : nn::functional::mse_loss(out, y);
        }
        loss.backward();
        opt.step();
        opt.zero_grad();
    };
    return median_ms(step, 20, repeats);
}

/// One training step of any model: loss_fn runs the forward and the loss.
template <class Optimizer, class Options>
double custom_step_ms(Module& model, Options options, const std::function<Tensor()>& loss_fn, int repeats) {
    Optimizer opt(model.parameters(), options);
    auto step = [&] {
        loss_fn().backward();
        opt.step();
        opt.zero_grad();
    };
    return median_ms(step, 5, repeats);
}

/// The CIFAR-style net of issue 12's table: three 3x3 convolutions with batch norm, max pooling and adaptive
/// average pooling.
nn::Sequential cifar_cnn() {
    return nn::Sequential{nn::Conv2d(nn::Conv2dOptions(3, 32, 3).padding(1)),
                          nn::BatchNorm2d(32),
                          nn::ReLU(),
                          nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                          nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)),
                          nn::BatchNorm2d(64),
                          nn::ReLU(),
                          nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                          nn::Conv2d(nn::Conv2dOptions(64, 128, 3).padding(1)),
                          nn::BatchNorm2d(128),
                          nn::ReLU(),
                          nn::AdaptiveAvgPool2d(nn::ExpandingArray<2>({1, 1})),
                          nn::Flatten(),
                          nn::Linear(128, 10)};
}

/// LAZYNN_BENCH_ONLY=substring runs only the workload groups whose name contains it (profiling one
/// workload); unset, every workload runs.
bool wanted(const char* group) {
    const char* only = std::getenv("LAZYNN_BENCH_ONLY");
    return only == nullptr || std::string(group).find(only) != std::string::npos;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1 && std::string(argv[1]) == "--backend") {
        std::printf("%s\n", backend_info().summary().c_str());
        return 0;
    }
    const int threads = bench::count_arg(argc, argv, "THREADS", 2, 1, 256);
    set_num_threads(threads);
    manual_seed(0);
    if (wanted("tiny_mlp")) {
        auto model = mlp(16, 32, 32, 1);
        report("tiny_mlp_sgd_b16",
               train_step_ms<optim::SGD>(model, optim::SGDOptions(0.01), randn({16, 16}), randn({16, 1}), false, 2000));
    }
    const Tensor x64 = randn({64, 784}), y64 = randint(0, 10, {64});
    if (wanted("mlp_sgd_momentum")) {
        auto model = mlp(784, 256, 128, 10);
        report("mlp_sgd_momentum_b64",
               train_step_ms<optim::SGD>(model, optim::SGDOptions(0.01).momentum(0.9), x64, y64, true, 500));
    }
    if (wanted("mlp_adam_b64")) {
        auto model = mlp(784, 256, 128, 10);
        report("mlp_adam_b64", train_step_ms<optim::Adam>(model, optim::AdamOptions(1e-3), x64, y64, true, 500));
    }
    if (wanted("mlp_adam_b256")) {
        auto model = mlp(784, 256, 128, 10);
        report("mlp_adam_b256", train_step_ms<optim::Adam>(model, optim::AdamOptions(1e-3), randn({256, 784}),
                                                           randint(0, 10, {256}), true, 200));
    }
    if (wanted("cnn_adam")) {
        nn::Sequential cnn{nn::Conv2d(1, 32, 3),
                           nn::ReLU(),
                           nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                           nn::Conv2d(32, 64, 3),
                           nn::ReLU(),
                           nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                           nn::Flatten(),
                           nn::Linear(1600, 128),
                           nn::ReLU(),
                           nn::Linear(128, 10)};
        report("cnn_adam_b64",
               train_step_ms<optim::Adam>(cnn, optim::AdamOptions(1e-3), randn({64, 1, 28, 28}), y64, true, 30));
    }
    if (wanted("cnn_bn_avgpool")) {
        // Layer mixes beyond the table: a CIFAR-sized CNN with padding, batch norm, average
        // pooling and dropout, and an MLP with GELU, LayerNorm, Tanh and AdamW.
        nn::Sequential cnn{nn::Conv2d(nn::Conv2dOptions(3, 32, 3).padding(1)),
                           nn::BatchNorm2d(32),
                           nn::ReLU(),
                           nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                           nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)),
                           nn::BatchNorm2d(64),
                           nn::ReLU(),
                           nn::AvgPool2d(nn::AvgPoolOptions<2>(2)),
                           nn::Flatten(),
                           nn::Linear(4096, 128),
                           nn::ReLU(),
                           nn::Dropout(0.5),
                           nn::Linear(128, 10)};
        report("cnn_bn_avgpool_b32", train_step_ms<optim::Adam>(cnn, optim::AdamOptions(1e-3), randn({32, 3, 32, 32}),
                                                                randint(0, 10, {32}), true, 30));
        nn::Sequential mixed{nn::Linear(512, 384), nn::GELU(), nn::LayerNorm(Shape{384}),
                             nn::Linear(384, 192), nn::Tanh(), nn::Linear(192, 10)};
        report("mlp_gelu_layernorm_adamw_b96",
               train_step_ms<optim::AdamW>(mixed, optim::AdamWOptions(1e-3), randn({96, 512}), randint(0, 10, {96}),
                                           true, 300));
    }
    if (wanted("mlp_inference")) {
        auto model = mlp(784, 256, 128, 10);
        const Tensor x1 = randn({1, 784}), x1024 = randn({1024, 784});
        NoGradGuard no_grad;
        report("mlp_inference_b1", median_ms([&] { (void)model(x1); }, 100, 5000));
        report("mlp_inference_b1024", median_ms([&] { (void)model(x1024); }, 10, 200));
    }
    if (wanted("lazy_mlp")) {
        // The same MLP built from lazy layers: after the first call it must cost what the eager one does.
        nn::Sequential lazy{nn::LazyLinear(256), nn::ReLU(), nn::LazyLinear(128), nn::ReLU(), nn::LazyLinear(10)};
        report("lazy_mlp_adam_b64", train_step_ms<optim::Adam>(lazy, optim::AdamOptions(1e-3), x64, y64, true, 500));
    }
    if (wanted("cifar_cnn")) {
        auto cnn = cifar_cnn();
        report("cifar_cnn_sgd_b32", train_step_ms<optim::SGD>(cnn, optim::SGDOptions(0.01).momentum(0.9),
                                                              randn({32, 3, 32, 32}), randint(0, 10, {32}), true, 20));
        // Issue 20's ratio is of these two steps: measured back to back, so that the machine's
        // drift between them (a shared guest's speed moves within minutes) stays small.
        auto autocast_cnn = cifar_cnn();
        report("cifar_cnn_sgd_b32_bf16",
               train_step_ms<optim::SGD>(autocast_cnn, optim::SGDOptions(0.01).momentum(0.9), randn({32, 3, 32, 32}),
                                         randint(0, 10, {32}), true, 20, /*autocast=*/true));
        cnn.eval();
        NoGradGuard no_grad;
        const Tensor x1 = randn({1, 3, 32, 32});
        report("cifar_cnn_inference_b1", median_ms([&] { (void)cnn(x1); }, 20, 500));
    }
    if (wanted("mlp1024")) {
        // GEMM-bound inference: compare with benchmarks/gemm_reference's rate for the same three GEMMs.
        nn::Sequential big{nn::Linear(1024, 1024), nn::ReLU(), nn::Linear(1024, 1024), nn::ReLU(),
                           nn::Linear(1024, 10)};
        NoGradGuard no_grad;
        const Tensor x = randn({512, 1024});
        report("mlp1024_inference_b512", median_ms([&] { (void)big(x); }, 5, 50));
    }
    if (wanted("autocast")) {
        // Issue 20's MLP under autocast (bfloat16); its CNN step runs beside the float32 one above.
        nn::Sequential big{nn::Linear(1024, 1024), nn::ReLU(), nn::Linear(1024, 1024), nn::ReLU(),
                           nn::Linear(1024, 10)};
        NoGradGuard no_grad;
        const AutocastGuard autocast(kBFloat16);
        const Tensor x = randn({512, 1024});
        report("mlp1024_inference_b512_bf16", median_ms([&] { (void)big(x); }, 5, 50));
    }
    if (wanted("lstm")) {
        nn::Sequential model{nn::LSTM(128, 256), nn::Linear(256, 10)};
        const Tensor x = randn({32, 32, 128}), y = randint(0, 10, {32});
        auto& rnn = dynamic_cast<nn::LSTM&>(model[0]);
        auto& linear = dynamic_cast<nn::Linear&>(model[1]);
        report("lstm_h256_t32_b32_adam", custom_step_ms<optim::Adam>(
                                             model, optim::AdamOptions(1e-3),
                                             [&] {
                                                 const Tensor out = rnn(x);  // [T, B, H]
                                                 return nn::functional::cross_entropy(linear(out.select(0, 31)), y);
                                             },
                                             20));
    }
    if (wanted("encoder")) {
        nn::TransformerEncoderLayer layer(
            nn::TransformerEncoderLayerOptions(128, 4).dim_feedforward(512).batch_first(true));
        const Tensor x = randn({16, 64, 128}), target = randn({16, 64, 128});
        report("encoder_d128_t64_b16_adamw",
               custom_step_ms<optim::AdamW>(
                   layer, optim::AdamWOptions(1e-3), [&] { return nn::functional::mse_loss(layer(x), target); }, 30));
    }
    // Scaling: the MLP's Adam step over batch sizes and hidden widths.
    for (std::int64_t batch : {16, 64, 256, 1024}) {
        if (!wanted("scale_batch")) break;
        auto model = mlp(784, 256, 128, 10);
        report("scale_batch_" + std::to_string(batch),
               train_step_ms<optim::Adam>(model, optim::AdamOptions(1e-3), randn({batch, 784}), randint(0, 10, {batch}),
                                          true, batch >= 1024 ? 40 : 200));
    }
    for (std::int64_t width : {128, 512, 2048}) {
        if (!wanted("scale_width")) break;
        auto model = mlp(784, width, width, 10);
        report("scale_width_" + std::to_string(width),
               train_step_ms<optim::Adam>(model, optim::AdamOptions(1e-3), x64, y64, true, width >= 2048 ? 40 : 200));
    }
    return 0;
}
