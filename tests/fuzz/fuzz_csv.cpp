// Fuzz target: lazynn::data::read_csv on arbitrary bytes, with and without a header line.
#include "fuzz_support.hpp"

#include <lazynn/data/readers.hpp>
#include <lazynn/tensor.hpp>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& path = lazynn::fuzz::write_input(data, size, ".csv");
    for (const bool header : {false, true}) {
        lazynn::fuzz::expect_only_lazynn_errors([&] {
            const lazynn::Tensor t = lazynn::data::read_csv(path, header);
            if (t.numel() > 0) (void)t.sum().item<double>();
        });
    }
    return 0;
}
