#pragma once
// Fusion capabilities a layer declares, so containers can run two layers as one pass without
// knowing concrete layer types (docs/design.md, decision 16).

#include <lazynn/tensor.hpp>

#include <cstdint>
#include <optional>

namespace lazynn::nn {

/// A layer that can apply a following ReLU inside its own pass. Sequential calls forward_relu
/// instead of forward() + ReLU when this layer is followed by exactly a ReLU and neither has
/// hooks (hooks must see the intermediate tensor) nor is still lazy.
///
/// Extension point contract:
///   requires: the layer is materialised; `input` is what forward() accepts.
///   ensures:  the result, and every gradient flowing back through it, equal
///             `forward(input).relu()` (same values, same dtype, same shape); buffers (e.g. batch
///             norm's running statistics) change exactly as forward() changes them.
class FusesFollowingReLU {
public:
    virtual ~FusesFollowingReLU() = default;
    /// Shapes: as the layer's forward.
    virtual Tensor forward_relu(const Tensor& input) = 0;

protected:
    FusesFollowingReLU() = default;
    FusesFollowingReLU(const FusesFollowingReLU&) = default;
    FusesFollowingReLU& operator=(const FusesFollowingReLU&) = default;
};

/// A layer that can apply a following ReLU and a following 2x2, stride-2 max pooling (exactly
/// MaxPool2d(2)) inside its own passes: Sequential offers it the three layers when they follow each
/// other, none has hooks and none is lazy. Training a conv-BN-ReLU-pool stack then neither stores
/// nor re-reads the full-size normalised map.
///
/// Extension point contract:
///   requires: the layer is materialised.
///   ensures:  for an input forward() rejects, forward()'s error or std::nullopt (forward() then
///             raises it); std::nullopt (nothing run, nothing changed) when the fusion does not apply
///             to this input; otherwise the result, and every gradient flowing back through it,
///             equal max_pool2d(relu(forward(input)), 2) up to rounding, with the same dtype and
///             shape, and buffers change exactly as forward() changes them.
class FusesFollowingReLUMaxPool2x2 {
public:
    virtual ~FusesFollowingReLUMaxPool2x2() = default;
    /// Shapes: input [N, C, H, W] -> [N, C, H / 2, W / 2]
    virtual std::optional<Tensor> forward_relu_max_pool2x2(const Tensor& input) = 0;

protected:
    FusesFollowingReLUMaxPool2x2() = default;
    FusesFollowingReLUMaxPool2x2(const FusesFollowingReLUMaxPool2x2&) = default;
    FusesFollowingReLUMaxPool2x2& operator=(const FusesFollowingReLUMaxPool2x2&) = default;
};

/// A per-channel normalisation y[:, c] = (x[:, c] - mean[c]) / sqrt(var[c] + eps) * weight[c] + bias[c]
/// over dim 1, as an eval-mode batch norm applies it. weight / bias undefined: 1 / 0. [C] each.
struct ChannelNormalization {
    Tensor mean, var, weight, bias;
    double eps = 1e-5;
};

/// A layer that, in its current state, is a fixed ChannelNormalization of its input (batch norm in
/// eval mode with running statistics). Sequential offers it to a preceding FoldsFollowingNormalization.
///
/// Extension point contract:
///   requires: nothing (it is asked before every candidate fold).
///   ensures:  std::nullopt unless forward() on an input of rank `input_dim` is exactly the returned
///             normalisation, with no side effect (no statistics update, no error it would raise).
class IsChannelNormalization {
public:
    virtual ~IsChannelNormalization() = default;
    virtual std::optional<ChannelNormalization> channel_normalization(std::int64_t input_dim) const = 0;

protected:
    IsChannelNormalization() = default;
    IsChannelNormalization(const IsChannelNormalization&) = default;
    IsChannelNormalization& operator=(const IsChannelNormalization&) = default;
};

/// A layer that can fold a following ChannelNormalization of its output channels into its own
/// weights (a convolution: w' = w s, b' = (b - mean) s + bias, s = weight / sqrt(var + eps)) and
/// run both, and optionally a ReLU after them, as one pass. Sequential uses it without autograd.
///
/// Extension point contract:
///   requires: the layer is materialised; autograd is off; `input` is what forward() accepts.
///   ensures:  std::nullopt (nothing run, nothing changed) when folding does not apply or does not
///             pay; otherwise the result equals norm(forward(input)), relu'd when `relu`, up to the
///             rounding of the folded weights.
class FoldsFollowingNormalization {
public:
    virtual ~FoldsFollowingNormalization() = default;
    /// Shapes: as the layer's forward.
    virtual std::optional<Tensor> forward_folded(const Tensor& input, const ChannelNormalization& norm, bool relu) = 0;

protected:
    FoldsFollowingNormalization() = default;
    FoldsFollowingNormalization(const FoldsFollowingNormalization&) = default;
    FoldsFollowingNormalization& operator=(const FoldsFollowingNormalization&) = default;
};

}  // namespace lazynn::nn
