// The workloads of benchmarks/workloads.cpp in PyTorch's C++ frontend, printed the same way
// ("name milliseconds"). Usage: libtorch_workloads [threads]
#include <ATen/autocast_mode.h>
#include <torch/torch.h>

#include "../step_timer.hpp"

#include <cstdio>
#include <functional>
#include <string>
#include <vector>

using bench::median_ms;
using bench::report;

namespace {

torch::nn::Sequential mlp(int64_t in, int64_t h1, int64_t h2, int64_t out) {
    if (h2 == 0) return torch::nn::Sequential(torch::nn::Linear(in, h1), torch::nn::ReLU(), torch::nn::Linear(h1, out));
    return torch::nn::Sequential(torch::nn::Linear(in, h1), torch::nn::ReLU(), torch::nn::Linear(h1, h2),
                                 torch::nn::ReLU(), torch::nn::Linear(h2, out));
}

/// libtorch's CPU autocast for a scope (torch.autocast("cpu", dtype=torch.bfloat16) in C++).
struct CpuAutocast {
    explicit CpuAutocast(bool on) : on_(on) {
        if (!on_) return;
        at::autocast::set_autocast_cpu_dtype(at::kBFloat16);
        at::autocast::set_cpu_enabled(true);
    }
    ~CpuAutocast() {
        if (!on_) return;
        at::autocast::set_cpu_enabled(false);
        at::autocast::clear_cache();
    }
    bool on_;
};

template <class Optimizer, class Options>
double train_step_ms(torch::nn::Sequential& model, Options options, const torch::Tensor& x, const torch::Tensor& y,
                     bool classification, int repeats, bool autocast = false) {
    Optimizer opt(model->parameters(), options);
    auto step = [&] {
        torch::Tensor loss;
        {
            const CpuAutocast guard(autocast);
            torch::Tensor out = model->forward(x);
            loss = classification ? torch::nn::functional::cross_entropy(out, y) : torch::mse_loss(out, y);
        }
        loss.backward();
        opt.step();
        opt.zero_grad();
    };
    return median_ms(step, 20, repeats);
}

template <class Optimizer, class Options>
double custom_step_ms(const std::vector<torch::Tensor>& params, Options options,
                      const std::function<torch::Tensor()>& loss_fn, int repeats) {
    Optimizer opt(params, options);
    auto step = [&] {
        loss_fn().backward();
        opt.step();
        opt.zero_grad();
    };
    return median_ms(step, 5, repeats);
}

torch::nn::Sequential cifar_cnn() {
    namespace tnn = torch::nn;
    return tnn::Sequential(
        tnn::Conv2d(tnn::Conv2dOptions(3, 32, 3).padding(1)), tnn::BatchNorm2d(32), tnn::ReLU(), tnn::MaxPool2d(2),
        tnn::Conv2d(tnn::Conv2dOptions(32, 64, 3).padding(1)), tnn::BatchNorm2d(64), tnn::ReLU(), tnn::MaxPool2d(2),
        tnn::Conv2d(tnn::Conv2dOptions(64, 128, 3).padding(1)), tnn::BatchNorm2d(128), tnn::ReLU(),
        tnn::AdaptiveAvgPool2d(tnn::AdaptiveAvgPool2dOptions({1, 1})), tnn::Flatten(), tnn::Linear(128, 10));
}

}  // namespace

int main(int argc, char** argv) {
    const int threads = bench::count_arg(argc, argv, "THREADS", 2, 1, 256);
    torch::set_num_threads(threads);
    torch::manual_seed(0);
    {
        auto model = mlp(16, 32, 32, 1);
        report("tiny_mlp_sgd_b16",
               train_step_ms<torch::optim::SGD>(model, torch::optim::SGDOptions(0.01), torch::randn({16, 16}),
                                                torch::randn({16, 1}), false, 2000));
    }
    const torch::Tensor x64 = torch::randn({64, 784}), y64 = torch::randint(0, 10, {64});
    {
        auto model = mlp(784, 256, 128, 10);
        report("mlp_sgd_momentum_b64", train_step_ms<torch::optim::SGD>(
                                           model, torch::optim::SGDOptions(0.01).momentum(0.9), x64, y64, true, 500));
    }
    {
        auto model = mlp(784, 256, 128, 10);
        report("mlp_adam_b64",
               train_step_ms<torch::optim::Adam>(model, torch::optim::AdamOptions(1e-3), x64, y64, true, 500));
    }
    {
        auto model = mlp(784, 256, 128, 10);
        report("mlp_adam_b256",
               train_step_ms<torch::optim::Adam>(model, torch::optim::AdamOptions(1e-3), torch::randn({256, 784}),
                                                 torch::randint(0, 10, {256}), true, 200));
    }
    {
        torch::nn::Sequential cnn(torch::nn::Conv2d(1, 32, 3), torch::nn::ReLU(), torch::nn::MaxPool2d(2),
                                  torch::nn::Conv2d(32, 64, 3), torch::nn::ReLU(), torch::nn::MaxPool2d(2),
                                  torch::nn::Flatten(), torch::nn::Linear(1600, 128), torch::nn::ReLU(),
                                  torch::nn::Linear(128, 10));
        report("cnn_adam_b64", train_step_ms<torch::optim::Adam>(cnn, torch::optim::AdamOptions(1e-3),
                                                                 torch::randn({64, 1, 28, 28}), y64, true, 30));
    }
    {
        namespace tnn = torch::nn;
        tnn::Sequential cnn(tnn::Conv2d(tnn::Conv2dOptions(3, 32, 3).padding(1)), tnn::BatchNorm2d(32), tnn::ReLU(),
                            tnn::MaxPool2d(2), tnn::Conv2d(tnn::Conv2dOptions(32, 64, 3).padding(1)),
                            tnn::BatchNorm2d(64), tnn::ReLU(), tnn::AvgPool2d(2), tnn::Flatten(),
                            tnn::Linear(4096, 128), tnn::ReLU(), tnn::Dropout(0.5), tnn::Linear(128, 10));
        report("cnn_bn_avgpool_b32",
               train_step_ms<torch::optim::Adam>(cnn, torch::optim::AdamOptions(1e-3), torch::randn({32, 3, 32, 32}),
                                                 torch::randint(0, 10, {32}), true, 30));
        tnn::Sequential mixed(tnn::Linear(512, 384), tnn::GELU(), tnn::LayerNorm(tnn::LayerNormOptions({384})),
                              tnn::Linear(384, 192), tnn::Tanh(), tnn::Linear(192, 10));
        report("mlp_gelu_layernorm_adamw_b96",
               train_step_ms<torch::optim::AdamW>(mixed, torch::optim::AdamWOptions(1e-3), torch::randn({96, 512}),
                                                  torch::randint(0, 10, {96}), true, 300));
    }
    {
        auto model = mlp(784, 256, 128, 10);
        const torch::Tensor x1 = torch::randn({1, 784}), x1024 = torch::randn({1024, 784});
        torch::NoGradGuard no_grad;
        report("mlp_inference_b1", median_ms([&] { (void)model->forward(x1); }, 100, 5000));
        report("mlp_inference_b1024", median_ms([&] { (void)model->forward(x1024); }, 10, 200));
    }
    {
        auto cnn = cifar_cnn();
        report("cifar_cnn_sgd_b32",
               train_step_ms<torch::optim::SGD>(cnn, torch::optim::SGDOptions(0.01).momentum(0.9),
                                                torch::randn({32, 3, 32, 32}), torch::randint(0, 10, {32}), true, 20));
        cnn->eval();
        torch::NoGradGuard no_grad;
        const torch::Tensor x1 = torch::randn({1, 3, 32, 32});
        report("cifar_cnn_inference_b1", median_ms([&] { (void)cnn->forward(x1); }, 20, 500));
    }
    {
        torch::nn::Sequential big(torch::nn::Linear(1024, 1024), torch::nn::ReLU(), torch::nn::Linear(1024, 1024),
                                  torch::nn::ReLU(), torch::nn::Linear(1024, 10));
        torch::NoGradGuard no_grad;
        const torch::Tensor x = torch::randn({512, 1024});
        report("mlp1024_inference_b512", median_ms([&] { (void)big->forward(x); }, 5, 50));
    }
    {
        // Issue 20's workloads under autocast (bfloat16).
        auto cnn = cifar_cnn();
        report("cifar_cnn_sgd_b32_bf16",
               train_step_ms<torch::optim::SGD>(cnn, torch::optim::SGDOptions(0.01).momentum(0.9),
                                                torch::randn({32, 3, 32, 32}), torch::randint(0, 10, {32}), true, 20,
                                                /*autocast=*/true));
        torch::nn::Sequential big(torch::nn::Linear(1024, 1024), torch::nn::ReLU(), torch::nn::Linear(1024, 1024),
                                  torch::nn::ReLU(), torch::nn::Linear(1024, 10));
        torch::NoGradGuard no_grad;
        const CpuAutocast guard(true);
        const torch::Tensor x = torch::randn({512, 1024});
        report("mlp1024_inference_b512_bf16", median_ms([&] { (void)big->forward(x); }, 5, 50));
    }
    {
        torch::nn::LSTM lstm(128, 256);
        torch::nn::Linear head(256, 10);
        std::vector<torch::Tensor> params = lstm->parameters();
        for (const auto& p : head->parameters()) params.push_back(p);
        const torch::Tensor x = torch::randn({32, 32, 128}), y = torch::randint(0, 10, {32});
        report("lstm_h256_t32_b32_adam", custom_step_ms<torch::optim::Adam>(
                                             params, torch::optim::AdamOptions(1e-3),
                                             [&] {
                                                 const torch::Tensor out = std::get<0>(lstm->forward(x));
                                                 return torch::nn::functional::cross_entropy(
                                                     head->forward(out.select(0, 31)), y);
                                             },
                                             20));
    }
    {
        torch::nn::TransformerEncoderLayer layer(
            torch::nn::TransformerEncoderLayerOptions(128, 4).dim_feedforward(512));
        // libtorch 1.13's C++ layer has no batch_first: the same data as [T, B, E].
        const torch::Tensor x = torch::randn({64, 16, 128}), target = torch::randn({64, 16, 128});
        report("encoder_d128_t64_b16_adamw", custom_step_ms<torch::optim::AdamW>(
                                                 layer->parameters(), torch::optim::AdamWOptions(1e-3),
                                                 [&] { return torch::mse_loss(layer->forward(x), target); }, 30));
    }
    // Scaling: the MLP's Adam step over batch sizes and hidden widths.
    for (int64_t batch : {16, 64, 256, 1024}) {
        auto model = mlp(784, 256, 128, 10);
        report("scale_batch_" + std::to_string(batch),
               train_step_ms<torch::optim::Adam>(model, torch::optim::AdamOptions(1e-3), torch::randn({batch, 784}),
                                                 torch::randint(0, 10, {batch}), true, batch >= 1024 ? 40 : 200));
    }
    for (int64_t width : {128, 512, 2048}) {
        auto model = mlp(784, width, width, 10);
        report("scale_width_" + std::to_string(width),
               train_step_ms<torch::optim::Adam>(model, torch::optim::AdamOptions(1e-3), x64, y64, true,
                                                 width >= 2048 ? 40 : 200));
    }
    return 0;
}
