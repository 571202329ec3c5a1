#pragma once
// The models the loading harnesses load into, and the seed generator saves from: lazy layers of
// every kind whose load hook materialises parameters from a file's shapes (linear, convolution,
// transposed convolution, batch norm, layer norm, embedding).

#include <lazynn/nn.hpp>

namespace lazynn::fuzz {

/// Image branch: conv -> batch norm -> ReLU -> transposed conv -> flatten -> linear.
inline nn::Sequential image_model() {
    return nn::Sequential{
        nn::LazyConv2d(nn::LazyConv2dOptions(4, 3).padding(1)),        nn::LazyBatchNorm2d(), nn::ReLU(),
        nn::LazyConvTranspose2d(nn::LazyConvTranspose2dOptions(2, 2)), nn::Flatten(),         nn::LazyLinear(3)};
}

/// Sequence branch: layer norm -> linear over the last dim.
inline nn::Sequential sequence_model() { return nn::Sequential{nn::LazyLayerNorm(), nn::LazyLinear(2)}; }

/// A batch for image_model(): [2, C, 5, 5] with C taken from the (possibly loaded) first conv.
inline Tensor image_batch(nn::Sequential& model) {
    const Tensor w = model.state_dict().at("0.weight");
    const std::int64_t channels = is_lazy(w) || w.dim() < 2 ? 3 : w.size(1);
    return ones({2, channels, 5, 5}) * 0.5;
}

}  // namespace lazynn::fuzz
