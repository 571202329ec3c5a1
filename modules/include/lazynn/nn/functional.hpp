#pragma once
// Stateless forms of the layers (PyTorch's torch.nn.functional).

#include <lazynn/ops/linear.hpp>
#include <lazynn/tensor.hpp>

namespace lazynn::nn::functional {

/// linear and linear_relu are the core's (lazynn/ops/linear.hpp).
using ops::linear;
using ops::linear_relu;
/// Zeroes each element with probability p and scales the rest by 1/(1-p) while training.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true);
Tensor relu(const Tensor& input);
Tensor gelu(const Tensor& input, bool tanh_approximation = false);

}  // namespace lazynn::nn::functional
