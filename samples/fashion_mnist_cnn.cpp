// Trains a small CNN built from lazy layers on Fashion-MNIST: LazyConv2d + LazyBatchNorm2d +
// pooling, then LazyLinear. No layer is told its input size.
//
//   fashion_mnist_cnn [--epochs 5] [--batch-size 64] [--lr 1e-3] [--seed 0]
//                     [--data /usr/share/datasets/fashion-mnist] [--out out/fashion_mnist_cnn]
//                     [--resume] [--threads 1] [--distributed]
#include "fashion_mnist.hpp"

using namespace lazynn;

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

    /// Shapes: input [N, 1, 28, 28] -> logits [N, 10]
    Tensor forward(const Tensor& x) override { return classifier(flatten(features(x))); }
};

int main(int argc, char** argv) {
    samples::CommonOptions o;
    o.out = "out/fashion_mnist_cnn";
    const auto command_line = samples::fashion_mnist_command_line("Fashion-MNIST CNN with lazy layers");
    if (int code = samples::parse_options(argc, argv, command_line, o); code >= 0) return code;
    lazynn::manual_seed(o.seed);  // before the model: its layers draw their seeds at construction
    Cnn model;
    return samples::train_fashion_mnist(model, o, "fashion_mnist_cnn", argc, argv);
}
