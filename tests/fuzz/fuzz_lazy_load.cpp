// Fuzz target: lazynn::load into lazy models, which materialise their parameters from the file's
// shapes, then a forward pass: whatever loads must also run (or throw a lazynn::Error), never read
// past a short bias or running statistic.
#include "fuzz_models.hpp"
#include "fuzz_support.hpp"

#include <lazynn/serialize.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = lazynn::fuzz::write_input(data, size, ".safetensors");
    lazynn::fuzz::expect_only_lazynn_errors([&] {
        lazynn::nn::Sequential model = lazynn::fuzz::image_model();
        lazynn::load(model, path);
        model.eval();
        (void)model(lazynn::fuzz::image_batch(model)).sum().item<double>();
    });
    lazynn::fuzz::expect_only_lazynn_errors([&] {
        lazynn::nn::Sequential model = lazynn::fuzz::sequence_model();
        lazynn::load(model, path, /*strict=*/false);
        const lazynn::Tensor w = model.state_dict().at("0.weight");
        const std::int64_t features = lazynn::is_lazy(w) || w.dim() != 1 ? 4 : w.size(0);
        (void)model(lazynn::ones({2, 3, features})).sum().item<double>();
    });
    return 0;
}
