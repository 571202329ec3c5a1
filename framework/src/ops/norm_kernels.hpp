#pragma once
// Row normalisation kernels for LayerNorm and GroupNorm: each row of a [rows, len] block is
// standardised to zero mean and unit (biased) variance, optionally followed by a per-column
// affine transform (LayerNorm's elementwise weight and bias). Statistics accumulate in double.

#include <cstdint>

namespace lazynn::ops::detail {

/// y[r, j] = (x[r, j] - mean[r]) * invstd[r] * weight[j] + bias[j]; weight/bias may be null (1 and 0).
/// Writes each row's mean and 1 / sqrt(var + eps) to mean[r] and invstd[r].
template <class T>
void normalize_rows_forward(const T* x, const T* weight, const T* bias, T* y, double* mean, double* invstd,
                            std::int64_t rows, std::int64_t len, double eps);

/// The backward of normalize_rows_forward over rows [0, rows), for the upstream gradient g.
/// grad_x (may be null) receives the input gradient; grad_weight / grad_bias (may be null) are
/// accumulated: += sum over the rows of g * xhat and of g.
template <class T>
void normalize_rows_backward(const T* x, const T* g, const T* weight, const double* mean, const double* invstd,
                             T* grad_x, double* grad_weight, double* grad_bias, std::int64_t rows, std::int64_t len);

// Batch normalisation over x [n, c, s] (s = spatial size), channels [first, end) of c. Each
// channel's rows are contiguous runs of s elements, one per sample.

/// Per-channel mean and biased variance (two passes).
template <class T>
void batch_norm_statistics(const T* x, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                           std::int64_t end, double* mean, double* var);

/// y = x * scale[ch] + shift[ch].
template <class T>
void batch_norm_transform(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                          std::int64_t end, const double* scale, const double* shift);

/// Writes sum_dy[ch] = sum g and sum_dy_xhat[ch] = sum g * xhat, and (when grad_x is not null)
/// grad_x = weight * invstd * (g - mean(g) - xhat * mean(g * xhat)) with batch statistics, or
/// weight * invstd * g with running statistics.
template <class T>
void batch_norm_backward(const T* x, const T* g, T* grad_x, std::int64_t n, std::int64_t c, std::int64_t s,
                         std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                         const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat);

}  // namespace lazynn::ops::detail
