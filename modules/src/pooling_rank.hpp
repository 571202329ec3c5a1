#pragma once
// The input-rank rule every pooling layer shares (internal header): N spatial dims, batched or not.

#include <lazynn/error.hpp>
#include <lazynn/shape_io.hpp>
#include <lazynn/tensor.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace lazynn::nn::detail {

/// Whether `input` is unbatched ([C, *spatial]); throws ShapeError naming `who` unless its rank is
/// N + 1 or N + 2.
template <std::size_t N>
bool is_unbatched_pooling_input(const std::string& who, const Tensor& input) {
    const auto batched = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched && input.dim() != batched - 1) {
        throw ShapeError(who + ": expected " + std::to_string(batched - 1) + "D or " + std::to_string(batched) +
                         "D input, got " + shape_to_list(input.shape()));
    }
    return input.dim() == batched - 1;
}

}  // namespace lazynn::nn::detail
