#pragma once
// Stateless forms of the layers (PyTorch's torch.nn.functional).

#include <lazynn/tensor.hpp>

namespace lazynn::nn::functional {

/// x @ weight^T + bias. Shapes: input [*, in], weight [out, in], bias [out] -> [*, out].
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());
/// relu(linear(input, weight, bias)) in one pass and one autograd node: what Sequential runs for
/// a Linear followed by a ReLU. Shapes as linear.
Tensor linear_relu(const Tensor& input, const Tensor& weight, const Tensor& bias = Tensor());
/// Zeroes each element with probability p and scales the rest by 1/(1-p) while training.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true);
Tensor relu(const Tensor& input);
Tensor gelu(const Tensor& input, bool tanh_approximation = false);

}  // namespace lazynn::nn::functional
