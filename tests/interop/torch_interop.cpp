// Checkpoint interoperability with PyTorch, driven by tests/interop/run.sh:
//   torch_interop write DIR   saves lazynn models + inputs/outputs for PyTorch to check
//   torch_interop check DIR   loads what PyTorch saved and compares the outputs
#include <lazynn/lazynn.hpp>

#include <iostream>
#include <string>

using namespace lazynn;

namespace {

/// The same architecture PyTorch builds in check_in_torch.py.
nn::Sequential make_model(bool lazy) {
    if (lazy) {
        return nn::Sequential(nn::LazyConv2d(4, 3), nn::LazyBatchNorm2d(), nn::ReLU(),
                              nn::MaxPool2d(nn::MaxPoolOptions<2>(2)), nn::Flatten(), nn::LazyLinear(5), nn::ReLU(),
                              nn::LazyLinear(3));
    }
    return nn::Sequential(nn::Conv2d(1, 4, 3), nn::BatchNorm2d(4), nn::ReLU(), nn::MaxPool2d(nn::MaxPoolOptions<2>(2)),
                          nn::Flatten(), nn::Linear(16, 5), nn::ReLU(), nn::Linear(5, 3));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: torch_interop write|check DIR\n";
        return 2;
    }
    const std::string mode = argv[1], dir = argv[2];
    try {
        if (mode == "write") {
            manual_seed(21);
            nn::Sequential model = make_model(true);  // lazy: the checkpoint must still carry PyTorch's keys and shapes
            model(randn({8, 1, 10, 10}));             // one training step's batch statistics
            model.eval();
            const Tensor x = randn({2, 1, 10, 10});
            NoGradGuard no_grad;
            save(model, dir + "/lazynn_model.safetensors");
            save(model, dir + "/lazynn_model_bf16.safetensors", {},
                 serialize::SaveOptions().float_format(serialize::FloatFormat::BFloat16));
            StateDict io;
            io.insert("input", x);
            io.insert("output", model(x));
            serialize::save_safetensors(io, dir + "/lazynn_io.safetensors");
            std::cout << "wrote " << dir << "/lazynn_model.safetensors\n";
            return 0;
        }
        if (mode == "check") {
            nn::Sequential model = make_model(true);
            load(model, dir + "/torch_model.safetensors");  // materialises the lazy layers (no forward)
            model.eval();
            const auto io = serialize::load_safetensors(dir + "/torch_io.safetensors");
            NoGradGuard no_grad;
            const Tensor out = model(io.tensors.at("input"));
            const bool ok = allclose(out, io.tensors.at("output"), 1e-5, 1e-6);
            std::cout << "PyTorch checkpoint in lazynn: outputs " << (ok ? "match" : "DIFFER") << "\n";
            // PyTorch's F16 file reads as the float32 values PyTorch says its halves stand for.
            const auto half = serialize::load_safetensors(dir + "/torch_model_f16.safetensors").tensors;
            const auto values = serialize::load_safetensors(dir + "/torch_model_f16_values.safetensors").tensors;
            bool half_ok = half.keys() == values.keys();
            for (const auto& [key, t] : values) half_ok = half_ok && equal(half.at(key), t);
            nn::Sequential from_half = make_model(true);
            half_ok = half_ok && load(from_half, dir + "/torch_model_f16.safetensors").ok();
            std::cout << "PyTorch F16 checkpoint in lazynn: " << (half_ok ? "exact and loads" : "DIFFERS") << "\n";
            return ok && half_ok ? 0 : 1;
        }
    } catch (const Error& e) {
        std::cerr << "torch_interop: " << e.what() << "\n";
        return 1;
    }
    std::cerr << "unknown mode " << mode << "\n";
    return 2;
}
