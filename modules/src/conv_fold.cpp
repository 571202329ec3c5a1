// Conv2d's FoldsFollowingNormalization: a following eval-mode batch norm folded into the weights.
#include <lazynn/autograd.hpp>
#include <lazynn/nn/conv.hpp>

#include <algorithm>

namespace lazynn::nn {

std::optional<Tensor> Conv2d::forward_folded(const Tensor& input, const ChannelNormalization& norm, bool relu) {
    const std::int64_t channels = norm.mean.numel();
    if (channels != out_channels() || !weight.is_floating_point()) return std::nullopt;
    // Folding costs a pass over the weights on every call; it pays when the activation it saves
    // is the larger (evaluation batches), not for a single small input.
    const std::int64_t activation = input.numel() / std::max<std::int64_t>(in_channels(), 1) * out_channels();
    if (activation < 8 * weight.numel()) return std::nullopt;
    // w' = w s, b' = (b - mean) s + beta, s = gamma / sqrt(var + eps) per output channel, in float64.
    const Dtype dtype = weight.dtype();
    const Tensor mean = norm.mean.to(kFloat64), var = norm.var.to(kFloat64);
    const Tensor gamma = norm.weight.defined() ? norm.weight.to(kFloat64) : ones({channels}, kFloat64);
    const Tensor beta = norm.bias.defined() ? norm.bias.to(kFloat64) : zeros({channels}, kFloat64);
    const Tensor scale = gamma * (var + norm.eps).rsqrt();
    const Tensor b = bias.defined() ? bias.to(kFloat64) : zeros({channels}, kFloat64);
    const Tensor folded_weight = (weight.to(kFloat64) * scale.reshape({-1, 1, 1, 1})).to(dtype);
    const Tensor folded_bias = ((b - mean) * scale + beta).to(dtype);
    return forward_with(input, folded_weight, folded_bias, relu);
}

}  // namespace lazynn::nn
