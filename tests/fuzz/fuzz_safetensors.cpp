// Fuzz target: lazynn::serialize::load_safetensors on arbitrary bytes. Whatever loads must be
// self-consistent: every tensor's storage holds exactly its shape's elements.
#include "fuzz_support.hpp"

#include <lazynn/serialize.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = lazynn::fuzz::write_input(data, size, ".safetensors");
    lazynn::fuzz::expect_only_lazynn_errors([&] {
        const auto contents = lazynn::serialize::load_safetensors(path);
        for (const auto& [name, t] : contents.tensors) {
            // Touch every element: a tensor claiming more elements than it holds reads out of bounds.
            // (In float64: an int64 sum of arbitrary values may overflow, which is not the loader's fault.)
            if (t.numel() > 0) (void)t.to(lazynn::kFloat64).sum().item<double>();
        }
    });
    return 0;
}
