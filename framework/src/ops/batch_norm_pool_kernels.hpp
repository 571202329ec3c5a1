#pragma once
// Batch norm, ReLU and 2x2 / stride-2 max pooling as one kernel (ops::batch_norm_relu_max_pool2x2,
// docs/design.md, decision 16): the normalised, ReLU'd map is never stored. The forward writes
// only the pooled values. The backward recomputes each window's ReLU'd values from x with the
// forward's arithmetic, picks the position max_pool2d's backward picks (the first maximum in scan
// order, or the last NaN) and applies ReLU's mask there, so the gradient reaching the batch norm
// (nonzero at most once per window) is never stored either. Batch norm's sums and input gradient
// then follow batch_norm_backward (norm_kernels.hpp).
//
// x is [n, c, h, w] with h, w >= 2; each call covers channels [first, end). Rows and columns no
// window covers (odd h or w) have no pooled output and a zero gradient from it.

#include <cstdint>

namespace lazynn::ops::detail {

/// out[i, ch] = max_pool2x2(relu(x[i, ch] * scale[ch] + shift[ch])), [h / 2, w / 2] per plane.
template <class T>
void batch_norm_relu_max_pool_forward(const T* x, T* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                                      const double* shift);

/// The backward of batch_norm_relu_max_pool_forward for grad_out [n, c, h / 2, w / 2]: with dy the
/// gradient that reaches the batch norm's output through the pooling and the ReLU, writes
/// sum_dy[ch] = sum dy and sum_dy_xhat[ch] = sum dy * xhat, and (when grad_x is not null)
/// grad_x = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) with batch statistics, or
/// weight * invstd * dy with running statistics. scale and shift are the forward's.
template <class T>
void batch_norm_relu_max_pool_backward(const T* x, const T* grad_out, T* grad_x, std::int64_t n, std::int64_t c,
                                       std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end,
                                       const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat);

}  // namespace lazynn::ops::detail
