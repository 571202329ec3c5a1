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

#include <cmath>
#include <cstdint>
#include <limits>

namespace lazynn::ops::detail {

/// What the positions of one [h, w] plane that no window picked add to sum(dy * (x - mean)) in
/// batch norm's own backward, where their dy is 0: NaN when one of them is infinite or NaN, or the
/// mean is (0 * inf), and 0 otherwise. The kernels sum over the picks only; adding this keeps
/// sum_dy_xhat what the three separate layers give. pick(y, x) is window (y, x)'s picked candidate
/// (0 top-left, 1 top-right, 2 bottom-left, 3 bottom-right). Needs a plane or mean that is not
/// finite to find anything, so callers run it only then.
template <class T, class Pick>
T unpicked_term(const T* plane, std::int64_t h, std::int64_t w, T centre, Pick&& pick) {
    if (!std::isfinite(centre)) return std::numeric_limits<T>::quiet_NaN();  // every window has three
    const std::int64_t covered_h = h / 2 * 2, covered_w = w / 2 * 2;
    T term = 0;
    for (std::int64_t y = 0; y < h; ++y) {
        for (std::int64_t x = 0; x < w; ++x) {
            const bool picked = y < covered_h && x < covered_w && pick(y / 2, x / 2) == 2 * (y % 2) + x % 2;
            if (!picked) term += T(0) * (plane[y * w + x] - centre);
        }
    }
    return term;
}

/// out[i, ch] = max_pool2x2(relu(x[i, ch] * scale[ch] + shift[ch])), [h / 2, w / 2] per plane. With
/// bfloat16_output (T float only) the map is rounded to bfloat16 before the ReLU and the pooling,
/// as a bfloat16 batch norm's output is (docs/design.md, decision 26).
template <class T>
void batch_norm_relu_max_pool_forward(const T* x, T* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                                      const double* shift, bool bfloat16_output);

/// The backward of batch_norm_relu_max_pool_forward for grad_out [n, c, h / 2, w / 2]: with dy the
/// gradient that reaches the batch norm's output through the pooling and the ReLU, writes
/// sum_dy[ch] = sum dy and sum_dy_xhat[ch] = sum dy * xhat, and (when grad_x is not null)
/// grad_x = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)) with batch statistics, or
/// weight * invstd * dy with running statistics. scale, shift and bfloat16_output are the forward's.
template <class T>
void batch_norm_relu_max_pool_backward(const T* x, const T* grad_out, T* grad_x, std::int64_t n, std::int64_t c,
                                       std::int64_t h, std::int64_t w, std::int64_t first, std::int64_t end,
                                       const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat, bool bfloat16_output);

}  // namespace lazynn::ops::detail
