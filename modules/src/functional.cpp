// dropout and the simple activations; linear is the core's (lazynn/ops/linear.hpp).
#include <lazynn/error.hpp>
#include <lazynn/nn/functional.hpp>

namespace lazynn::nn::functional {

Tensor dropout(const Tensor& input, double p, bool training) {
    if (p < 0.0 || p > 1.0)
        throw ValueError("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
    if (!training || p == 0.0) return input;
    if (p == 1.0) return input * 0.0;
    // PyTorch's CPU dropout: input * bernoulli(1 - p) / (1 - p), recorded as one multiplication.
    Tensor noise = bernoulli(input.is_floating_point() ? input : input.to(kFloat32), 1.0 - p);
    noise.div_(1.0 - p);
    return input * noise;
}

Tensor relu(const Tensor& input) { return input.relu(); }
Tensor gelu(const Tensor& input, bool tanh_approximation) { return input.gelu(tanh_approximation); }

}  // namespace lazynn::nn::functional
