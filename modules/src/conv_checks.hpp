#pragma once
// Argument checks shared by the convolution entry points (internal).

#include <lazynn/tensor.hpp>

namespace lazynn::nn::functional::detail {

/// PyTorch's bias check: an undefined bias, or a 1-D one with one value per output channel
/// (weight.size(0), or weight.size(1) * groups when `transposed`). A short bias would be read
/// past its end by the kernels, a long one silently accepted. Throws RuntimeError naming `op`.
void check_conv_bias(const Tensor& weight, const Tensor& bias, std::int64_t groups, bool transposed, const char* op);

}  // namespace lazynn::nn::functional::detail
