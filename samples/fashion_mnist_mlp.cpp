// Trains an MLP built from LazyLinear layers on Fashion-MNIST.
//
//   fashion_mnist_mlp [--epochs 10] [--batch-size 64] [--lr 1e-3] [--seed 0]
//                     [--data /usr/share/datasets/fashion-mnist] [--out out/fashion_mnist_mlp]
//                     [--resume] [--threads 1] [--distributed]
//
// No layer is told its input size: each LazyLinear reads it from the first batch. The optimizer
// is built before that first batch and still trains the real tensors.
#include "fashion_mnist.hpp"

using namespace lazynn;

struct Mlp : Cloneable<Mlp> {
    nn::Flatten flatten{this, "flatten"};
    nn::LazyLinear fc1{this, "fc1", 256};
    nn::ReLU act1{this, "act1"};
    nn::Dropout drop{this, "drop", 0.2};
    nn::LazyLinear fc2{this, "fc2", 128};
    nn::ReLU act2{this, "act2"};
    nn::LazyLinear fc3{this, "fc3", 10};

    /// Shapes: input [N, 1, 28, 28] -> logits [N, 10]
    Tensor forward(const Tensor& x) override { return fc3(act2(fc2(drop(act1(fc1(flatten(x))))))); }
};

int main(int argc, char** argv) {
    samples::CommonOptions o;
    o.out = "out/fashion_mnist_mlp";
    o.epochs = 10;
    const auto command_line = samples::fashion_mnist_command_line("Fashion-MNIST MLP with lazy layers");
    if (int code = samples::parse_options(argc, argv, command_line, o); code >= 0) return code;
    lazynn::manual_seed(o.seed);  // before the model: its layers draw their seeds at construction
    Mlp model;
    return samples::train_fashion_mnist(model, o, "fashion_mnist_mlp", argc, argv);
}
