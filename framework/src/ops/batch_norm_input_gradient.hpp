#pragma once
// Batch norm's input gradient for one channel, from the channel's sums of the incoming gradient:
// the constants are computed once per channel and the same formula serves the batch norm backward
// (norm_kernels_simd.hpp) and the fused batch norm + ReLU + pooling backward
// (batch_norm_pool_kernels.cpp and batch_norm_pool_kernels_simd.hpp), on scalars and on SIMD
// registers alike.

#include <cstdint>

namespace lazynn::ops::detail {

/// With batch statistics (PyTorch's batch_norm_backward):
///   grad_x = weight * invstd * (dy - mean(dy) - (x - mean) * invstd^2 * mean(dy * (x - mean)))
/// evaluated as dy * k1 + (constant - (x - mean) * k1_slope); (x - mean) comes first so that inputs
/// far from zero with a small spread keep their precision. With running statistics the input does
/// not enter: grad_x = weight * invstd * dy (a NaN input must not make its gradient NaN, as
/// (x - mean) * 0 would).
template <class T>
class BatchNormInputGradient {
public:
    /// sum_dy = sum(dy), sum_dy_centered = sum(dy * (x - mean)) over the channel's `count` elements.
    BatchNormInputGradient(double mean, double invstd, double weight, double sum_dy, double sum_dy_centered,
                           double count, bool batch_statistics)
        : batch_statistics_(batch_statistics),
          centre_(static_cast<T>(mean)),
          k1_(static_cast<T>(weight * invstd)),
          k1_slope_(
              static_cast<T>(batch_statistics ? weight * invstd * invstd * invstd * sum_dy_centered / count : 0.0)),
          constant_(static_cast<T>(batch_statistics ? -weight * invstd * sum_dy / count : 0.0)) {}

    /// V: T or an xsimd register of T.
    template <class V>
    V operator()(V dy, V x) const {
        if (!batch_statistics_) return dy * V(k1_);
        return dy * V(k1_) + (V(constant_) - (x - V(centre_)) * V(k1_slope_));
    }

private:
    bool batch_statistics_;
    T centre_, k1_, k1_slope_, constant_;
};

}  // namespace lazynn::ops::detail
