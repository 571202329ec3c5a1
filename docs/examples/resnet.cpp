// The ResNet example from docs/writing-a-module.md: torchvision's BasicBlock written as a module of
// your own, used with its constructor arguments inside Sequential stages and as a direct member
// (lazynn::Member). The parameter names are torchvision's. CI compiles and runs it.
#include <lazynn/lazynn.hpp>

#include <cstdint>
#include <iostream>
#include <set>
#include <string>

namespace nn = lazynn::nn;
namespace optim = lazynn::optim;

// torchvision's BasicBlock: two 3x3 convolutions with batch norm, and a shortcut that projects
// (a 1x1 convolution and batch norm, "downsample") when the block changes the shape.
struct BasicBlock : lazynn::Cloneable<BasicBlock> {
    struct Sizes {
        std::int64_t in, out, stride;
    } sizes;  // declared first: the members below read it in their initialisers

    BasicBlock(std::int64_t in, std::int64_t out, std::int64_t stride = 1) : sizes{in, out, stride} {
        if (stride != 1 || in != out) {
            downsample.push_back(nn::Conv2d(nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)));
            downsample.push_back(nn::BatchNorm2d(out));
        }
    }

    nn::Conv2d conv1{this, "conv1",
                     nn::Conv2dOptions(sizes.in, sizes.out, 3).stride(sizes.stride).padding(1).bias(false)};
    nn::BatchNorm2d bn1{this, "bn1", sizes.out};
    nn::ReLU relu{this, "relu"};
    nn::Conv2d conv2{this, "conv2", nn::Conv2dOptions(sizes.out, sizes.out, 3).padding(1).bias(false)};
    nn::BatchNorm2d bn2{this, "bn2", sizes.out};
    nn::Sequential downsample{this, "downsample"};  // empty when the shape is kept: the identity

    // Shapes: x [N, in, H, W] -> [N, out, H / stride, W / stride]
    lazynn::Tensor forward(const lazynn::Tensor& x) override {
        const lazynn::Tensor out = bn2(conv2(relu(bn1(conv1(x)))));
        return relu(out + (downsample.empty() ? x : downsample(x)));
    }
};

// A small ResNet for 32x32 images. Stages are Sequentials of blocks (names "layer1.0.conv1.weight",
// as torchvision's); the last, one-block stage is a direct member built from its arguments.
struct ResNet : lazynn::Cloneable<ResNet> {
    nn::Conv2d conv1{this, "conv1", nn::Conv2dOptions(3, 16, 3).padding(1).bias(false)};
    nn::BatchNorm2d bn1{this, "bn1", 16};
    nn::ReLU relu{this, "relu"};
    nn::Sequential layer1{this, "layer1", BasicBlock(16, 16), BasicBlock(16, 16)};
    nn::Sequential layer2{this, "layer2", BasicBlock(16, 32, 2), BasicBlock(32, 32)};
    lazynn::Member<BasicBlock> layer3{this, "layer3", 32, 64, 2};
    nn::AdaptiveAvgPool2d avgpool{this, "avgpool", nn::ExpandingArray<2>({1, 1})};
    nn::Linear fc{this, "fc", 64, 10};

    // Shapes: x [N, 3, 32, 32] -> logits [N, 10]
    lazynn::Tensor forward(const lazynn::Tensor& x) override {
        const lazynn::Tensor features = layer3(layer2(layer1(relu(bn1(conv1(x))))));
        return fc(avgpool(features).flatten(1));
    }
};

int main() {
    lazynn::manual_seed(0);
    ResNet model;
    std::set<std::string> names;
    for (const auto& [name, p] : model.named_parameters()) names.insert(name);
    for (const auto& [name, b] : model.named_buffers()) names.insert(name);
    const bool torchvision_names = names.count("layer1.0.conv1.weight") && names.count("layer1.1.bn2.running_var") &&
                                   names.count("layer2.0.downsample.0.weight") &&
                                   !names.count("layer2.1.downsample.0.weight") &&
                                   names.count("layer3.downsample.1.running_mean") && names.count("fc.bias");
    std::cout << model.named_parameters().size() << " parameters, " << model.num_parameters().total
              << " values; torchvision's names: " << (torchvision_names ? "yes" : "no") << "\n";

    // Two training steps on random data: the loss goes down.
    const lazynn::Tensor x = lazynn::randn({8, 3, 32, 32}), y = lazynn::randint(0, 10, {8});
    optim::SGD sgd(model.parameters(), optim::SGDOptions(0.05).momentum(0.9));
    double first = 0, last = 0;
    for (int step = 0; step < 3; ++step) {
        sgd.zero_grad();
        const lazynn::Tensor loss = nn::functional::cross_entropy(model(x), y);
        loss.backward();
        sgd.step();
        (step == 0 ? first : last) = loss.item<double>();
    }
    std::cout << "loss " << first << " -> " << last << "\n";

    model.eval();
    ResNet copy = model;  // a deep copy, blocks and stages included
    const bool same = lazynn::allclose(copy(x), model(x));
    return torchvision_names && last < first && same && model(x).shape() == lazynn::Shape{8, 10} ? 0 : 1;
}
