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

/// y = x * scale[ch] + shift[ch], then relu(y) in the same pass when `relu` (PyTorch's ReLU: NaN and
/// -0.0 pass).
template <class T>
void batch_norm_transform(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                          std::int64_t end, const double* scale, const double* shift, bool relu);

/// Writes sum_dy[ch] = sum dy and sum_dy_xhat[ch] = sum dy * xhat, and (when grad_x is not null)
/// grad_x = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) with batch statistics, or
/// weight * invstd * dy with running statistics. dy is g, or, when relu_output (the output of a
/// fused ReLU, laid out as x) is not null, g masked as ReLU's backward masks it: g where
/// relu_output > 0 or NaN, else 0; the mask is applied as the values load, never stored.
template <class T>
void batch_norm_backward(const T* x, const T* g, const T* relu_output, T* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t s, std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                         const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat);

}  // namespace lazynn::ops::detail
