#pragma once
// Fusion capabilities a layer declares, so containers can run two layers as one pass without
// knowing concrete layer types (docs/design.md, decision 16).

#include <lazynn/tensor.hpp>

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

}  // namespace lazynn::nn
