// Fuzz target: lazynn::data::read_idx (IDX files, plain or gzip) on arbitrary bytes.
#include "fuzz_support.hpp"

#include <lazynn/data/readers.hpp>
#include <lazynn/tensor.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = lazynn::fuzz::write_input(data, size, ".idx");
    lazynn::fuzz::expect_only_lazynn_errors([&] {
        const lazynn::Tensor t = lazynn::data::read_idx(path, lazynn::kFloat32);
        if (t.numel() > 0) (void)t.sum().item<double>();
    });
    return 0;
}
