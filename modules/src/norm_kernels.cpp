// Row normalisation kernels; see norm_kernels.hpp.
//
// Reductions keep eight independent double accumulators so they vectorise without reassociating
// anything the compiler would need -ffast-math for; the kernels are multiversioned (AVX2 and
// baseline).
#include "norm_kernels.hpp"

#include "multiversion.hpp"

#include <cmath>

namespace lazynn::nn::functional::detail {
namespace {

constexpr int kLanes = 8;

/// Sum of f(j) over j in [0, len), in eight double lanes.
template <class F>
LAZYNN_KERNEL_INLINE double lane_sum(std::int64_t len, F f) {
    double lanes[kLanes] = {};
    std::int64_t j = 0;
    for (; j + kLanes <= len; j += kLanes) {
        for (int q = 0; q < kLanes; ++q) lanes[q] += f(j + q);
    }
    double total = 0;
    for (; j < len; ++j) total += f(j);
    for (double lane : lanes) total += lane;
    return total;
}

}  // namespace

template <class T>
LAZYNN_MULTIVERSION void normalize_rows_forward(const T* x, const T* weight, const T* bias, T* y, double* mean, double* invstd,
                                                std::int64_t rows, std::int64_t len, double eps) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* __restrict row = x + r * len;
        T* __restrict out = y + r * len;
        const double m = lane_sum(len, [&](std::int64_t j) { return static_cast<double>(row[j]); }) / static_cast<double>(len);
        const double var = lane_sum(len, [&](std::int64_t j) {
                               const double d = static_cast<double>(row[j]) - m;
                               return d * d;
                           }) / static_cast<double>(len);
        const double is = 1.0 / std::sqrt(var + eps);
        mean[r] = m;
        invstd[r] = is;
        const T scale = static_cast<T>(is), shift = static_cast<T>(-m * is);
        if (weight) {
            for (std::int64_t j = 0; j < len; ++j) out[j] = (row[j] * scale + shift) * weight[j] + bias[j];
        } else {
            for (std::int64_t j = 0; j < len; ++j) out[j] = row[j] * scale + shift;
        }
    }
}

template <class T>
LAZYNN_MULTIVERSION void normalize_rows_backward(const T* x, const T* g, const T* weight, const double* mean, const double* invstd,
                                                 T* grad_x, double* grad_weight, double* grad_bias, std::int64_t rows, std::int64_t len) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* __restrict row = x + r * len;
        const T* __restrict grow = g + r * len;
        const double m = mean[r], is = invstd[r];
        const T scale = static_cast<T>(is), shift = static_cast<T>(-m * is);
        if (grad_weight) {
            for (std::int64_t j = 0; j < len; ++j) grad_weight[j] += static_cast<double>(grow[j] * (row[j] * scale + shift));
        }
        if (grad_bias) {
            for (std::int64_t j = 0; j < len; ++j) grad_bias[j] += static_cast<double>(grow[j]);
        }
        if (!grad_x) continue;
        // dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = g * weight.
        auto dxhat = [&](std::int64_t j) { return static_cast<double>(weight ? grow[j] * weight[j] : grow[j]); };
        const double a = lane_sum(len, dxhat) / static_cast<double>(len);
        const double b = lane_sum(len, [&](std::int64_t j) { return dxhat(j) * (static_cast<double>(row[j]) - m) * is; }) /
                         static_cast<double>(len);
        T* __restrict dx = grad_x + r * len;
        const T ta = static_cast<T>(a), tb = static_cast<T>(b);
        for (std::int64_t j = 0; j < len; ++j) {
            const T xhat = row[j] * scale + shift;
            const T d = weight ? grow[j] * weight[j] : grow[j];
            dx[j] = scale * (d - ta - xhat * tb);
        }
    }
}

template void normalize_rows_forward<float>(const float*, const float*, const float*, float*, double*, double*, std::int64_t, std::int64_t,
                                            double);
template void normalize_rows_forward<double>(const double*, const double*, const double*, double*, double*, double*, std::int64_t,
                                             std::int64_t, double);
template void normalize_rows_backward<float>(const float*, const float*, const float*, const double*, const double*, float*, double*,
                                             double*, std::int64_t, std::int64_t);
template void normalize_rows_backward<double>(const double*, const double*, const double*, const double*, const double*, double*, double*,
                                              double*, std::int64_t, std::int64_t);

template <class T>
LAZYNN_MULTIVERSION void batch_norm_statistics(const T* x, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                                               std::int64_t end, double* mean, double* var) {
    const double count = static_cast<double>(n * s);
    for (std::int64_t ch = first; ch < end; ++ch) {
        double sum = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* __restrict row = x + (i * c + ch) * s;
            sum += lane_sum(s, [&](std::int64_t k) { return static_cast<double>(row[k]); });
        }
        const double m = sum / count;
        double squares = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* __restrict row = x + (i * c + ch) * s;
            squares += lane_sum(s, [&](std::int64_t k) {
                const double d = static_cast<double>(row[k]) - m;
                return d * d;
            });
        }
        mean[ch] = m;
        var[ch] = squares / count;
    }
}

template <class T>
LAZYNN_MULTIVERSION void batch_norm_transform(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                                              std::int64_t end, const double* scale, const double* shift) {
    for (std::int64_t ch = first; ch < end; ++ch) {
        const T a = static_cast<T>(scale[ch]), b = static_cast<T>(shift[ch]);
        for (std::int64_t i = 0; i < n; ++i) {
            const T* __restrict row = x + (i * c + ch) * s;
            T* __restrict out = y + (i * c + ch) * s;
            for (std::int64_t k = 0; k < s; ++k) out[k] = row[k] * a + b;
        }
    }
}

template <class T>
LAZYNN_MULTIVERSION void batch_norm_backward(const T* x, const T* g, T* grad_x, std::int64_t n, std::int64_t c, std::int64_t s,
                                             std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                                             const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat) {
    const double count = static_cast<double>(n * s);
    for (std::int64_t ch = first; ch < end; ++ch) {
        const double m = mean[ch];
        double dy = 0, dy_centered = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* __restrict row = x + (i * c + ch) * s;
            const T* __restrict grow = g + (i * c + ch) * s;
            dy += lane_sum(s, [&](std::int64_t k) { return static_cast<double>(grow[k]); });
            dy_centered += lane_sum(s, [&](std::int64_t k) { return static_cast<double>(grow[k]) * (static_cast<double>(row[k]) - m); });
        }
        sum_dy[ch] = dy;
        sum_dy_xhat[ch] = dy_centered * invstd[ch];
        if (!grad_x) continue;
        const T k1 = static_cast<T>(weight[ch] * invstd[ch]);
        const T mean_dy = static_cast<T>(batch_statistics ? dy / count : 0.0);
        // xhat * mean(g * xhat) = (x - mean) * invstd^2 * mean(g * (x - mean)), folded into one factor.
        const T slope = static_cast<T>(batch_statistics ? invstd[ch] * invstd[ch] * dy_centered / count : 0.0);
        const T centre = static_cast<T>(m);
        for (std::int64_t i = 0; i < n; ++i) {
            const T* __restrict row = x + (i * c + ch) * s;
            const T* __restrict grow = g + (i * c + ch) * s;
            T* __restrict drow = grad_x + (i * c + ch) * s;
            for (std::int64_t k = 0; k < s; ++k) drow[k] = k1 * (grow[k] - mean_dy - (row[k] - centre) * slope);
        }
    }
}

#define LAZYNN_BATCH_NORM_INSTANCES(T)                                                                                               \
    template void batch_norm_statistics<T>(const T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, double*,   \
                                           double*);                                                                                \
    template void batch_norm_transform<T>(const T*, T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t,        \
                                          const double*, const double*);                                                            \
    template void batch_norm_backward<T>(const T*, const T*, T*, std::int64_t, std::int64_t, std::int64_t, std::int64_t, std::int64_t, \
                                         const double*, const double*, const double*, bool, double*, double*);
LAZYNN_BATCH_NORM_INSTANCES(float)
LAZYNN_BATCH_NORM_INSTANCES(double)

}  // namespace lazynn::nn::functional::detail
