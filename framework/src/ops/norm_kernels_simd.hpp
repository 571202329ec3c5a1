#pragma once
// NormKernels (simd/kernels.hpp) on xsimd batches. Layer-norm statistics accumulate in double
// registers (float rows are widened as they load); batch norm sums each sample's row in the tensor's
// type and the rows in double, as PyTorch's CPU kernel does; the elementwise passes run in the
// tensor's type.
// Included only by the per-architecture translation units.

#include "ops/batch_norm_input_gradient.hpp"
#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

#include <cmath>
#include <type_traits>

namespace lazynn::simd {

namespace norm_detail {

/// Loads a register of doubles from p (widening float), for the body of a lane sum.
template <class A>
struct WideLoad {
    template <class T>
    Batch<double, A> operator()(const T* p) const {
        return load_as_double<A>(p);
    }
};

/// Loads one double from p, for the tail of a lane sum.
template <class A>
struct ScalarLoad {
    template <class T>
    double operator()(const T* p) const {
        return static_cast<double>(*p);
    }
};

/// Sum over j in [0, len) of term(load, j), where term reads elements j.. through load: a
/// register of doubles at a time in two accumulators, then one at a time for the tail.
template <class A, class Term>
double lane_sum(std::int64_t len, Term term) {
    using D = Batch<double, A>;
    constexpr auto L = static_cast<std::int64_t>(D::size);
    D first(0.0), second(0.0);
    std::int64_t j = 0;
    for (; j + 2 * L <= len; j += 2 * L) {
        first += term(WideLoad<A>{}, j);
        second += term(WideLoad<A>{}, j + L);
    }
    for (; j + L <= len; j += L) first += term(WideLoad<A>{}, j);
    double total = xsimd::hadd(first + second);
    for (; j < len; ++j) total += term(ScalarLoad<A>{}, j);
    return total;
}

/// Loads a register of T from p, for the body of a row sum.
template <class A, class T>
struct RowLoad {
    Batch<T, A> operator()(const T* p) const { return Batch<T, A>::load_unaligned(p); }
};

/// Sum over j in [0, len) of term(load, j) for one batch-norm row: registers of T in two
/// accumulators, their total and the tail's terms added in double. PyTorch's CPU batch norm sums
/// each sample's row in the input's type and the rows in double, and so does this.
template <class A, class T, class Term>
double row_sum(std::int64_t len, Term term) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    B first(T(0)), second(T(0));
    std::int64_t j = 0;
    for (; j + 2 * L <= len; j += 2 * L) {
        first += term(RowLoad<A, T>{}, j);
        second += term(RowLoad<A, T>{}, j + L);
    }
    for (; j + L <= len; j += L) first += term(RowLoad<A, T>{}, j);
    // The lanes added in double through memory: xsimd 8's float hadd on AVX-512 needs AVX512DQ,
    // which the avx512f build does not assume.
    alignas(64) T lanes[L];
    (first + second).store_aligned(lanes);
    double total = 0;
    for (const T lane : lanes) total += static_cast<double>(lane);
    for (; j < len; ++j) total += static_cast<double>(term([](const T* p) { return *p; }, j));
    return total;
}

/// out[j] = f(j-th registers) over [0, len) in T, a register at a time, then element by element
/// through the same f on one-lane values.
template <class A, class T, class F>
void transform(std::int64_t len, F f) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    std::int64_t j = 0;
    for (; j + L <= len; j += L)
        f(
            j, [](const T* p) { return B::load_unaligned(p); }, [](T* p, B v) { v.store_unaligned(p); });
    for (; j < len; ++j)
        f(
            j, [](const T* p) { return *p; }, [](T* p, T v) { *p = v; });
}

template <class A, class T>
void normalize_rows_forward(const T* x, const T* weight, const T* bias, T* y, double* mean, double* invstd,
                            std::int64_t rows, std::int64_t len, double eps) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * len;
        T* out = y + r * len;
        const double m =
            lane_sum<A>(len, [&](auto load, std::int64_t j) { return load(row + j); }) / static_cast<double>(len);
        const double var = lane_sum<A>(len,
                                       [&](auto load, std::int64_t j) {
                                           const auto d = load(row + j) - m;
                                           return d * d;
                                       }) /
                           static_cast<double>(len);
        const double is = 1.0 / std::sqrt(var + eps);
        mean[r] = m;
        invstd[r] = is;
        const T scale = static_cast<T>(is), shift = static_cast<T>(-m * is);
        if (weight) {
            transform<A, T>(len, [&](std::int64_t j, auto load, auto store) {
                store(out + j, (load(row + j) * scale + shift) * load(weight + j) + load(bias + j));
            });
        } else {
            transform<A, T>(
                len, [&](std::int64_t j, auto load, auto store) { store(out + j, load(row + j) * scale + shift); });
        }
    }
}

template <class A, class T>
void normalize_rows_backward(const T* x, const T* g, const T* weight, const double* mean, const double* invstd,
                             T* grad_x, double* grad_weight, double* grad_bias, std::int64_t rows, std::int64_t len) {
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* row = x + r * len;
        const T* grow = g + r * len;
        const double m = mean[r], is = invstd[r];
        const T scale = static_cast<T>(is), shift = static_cast<T>(-m * is);
        // Column sums over rows in double: element by element (the accumulators are per column).
        if (grad_weight) {
            for (std::int64_t j = 0; j < len; ++j)
                grad_weight[j] += static_cast<double>(grow[j] * (row[j] * scale + shift));
        }
        if (grad_bias) {
            for (std::int64_t j = 0; j < len; ++j) grad_bias[j] += static_cast<double>(grow[j]);
        }
        if (!grad_x) continue;
        // dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = g * weight.
        const auto dxhat = [&](auto load, std::int64_t j) {
            return weight ? load(grow + j) * load(weight + j) : load(grow + j);
        };
        const double a = lane_sum<A>(len, dxhat) / static_cast<double>(len);
        const double b =
            lane_sum<A>(len, [&](auto load, std::int64_t j) { return dxhat(load, j) * ((load(row + j) - m) * is); }) /
            static_cast<double>(len);
        T* dx = grad_x + r * len;
        const T ta = static_cast<T>(a), tb = static_cast<T>(b);
        transform<A, T>(len, [&](std::int64_t j, auto load, auto store) {
            const auto xhat = load(row + j) * scale + shift;
            const auto d = weight ? load(grow + j) * load(weight + j) : load(grow + j);
            store(dx + j, scale * (d - ta - xhat * tb));
        });
    }
}

template <class A, class T>
void batch_norm_statistics(const T* x, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                           std::int64_t end, double* mean, double* var) {
    const double count = static_cast<double>(n * s);
    for (std::int64_t ch = first; ch < end; ++ch) {
        double sum = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* row = x + (i * c + ch) * s;
            sum += row_sum<A, T>(s, [&](auto load, std::int64_t k) { return load(row + k); });
        }
        const double m = sum / count;
        const T centre = static_cast<T>(m);
        double squares = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* row = x + (i * c + ch) * s;
            squares += row_sum<A, T>(s, [&](auto load, std::int64_t k) {
                const auto d = load(row + k) - centre;
                return d * d;
            });
        }
        mean[ch] = m;
        var[ch] = squares / count;
    }
}

/// v, or relu(v) with PyTorch's semantics (NaN and -0.0 pass), for a register or one value.
template <class V>
V relu_if(bool relu, V v) {
    if (!relu) return v;
    if constexpr (std::is_arithmetic_v<V>) {
        return v < V(0) ? V(0) : v;
    } else {
        return xsimd::select(v < V(0), V(0), v);
    }
}

/// ReLU's backward for a register or one value: g where the ReLU's output y is above zero or NaN.
template <class V>
V relu_masked(V g, V y) {
    if constexpr (std::is_arithmetic_v<V>) {
        return y <= V(0) ? V(0) : g;
    } else {
        return xsimd::select(y <= V(0), V(0), g);
    }
}

template <class A, class T>
void batch_norm_transform(const T* x, T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                          std::int64_t end, const double* scale, const double* shift, bool relu) {
    for (std::int64_t ch = first; ch < end; ++ch) {
        const T a = static_cast<T>(scale[ch]), b = static_cast<T>(shift[ch]);
        for (std::int64_t i = 0; i < n; ++i) {
            const T* row = x + (i * c + ch) * s;
            T* out = y + (i * c + ch) * s;
            transform<A, T>(s, [&](std::int64_t k, auto load, auto store) {
                store(out + k, relu_if(relu, load(row + k) * a + b));
            });
        }
    }
}

template <class A, class T>
void batch_norm_backward(const T* x, const T* g, const T* relu_output, T* grad_x, std::int64_t n, std::int64_t c,
                         std::int64_t s, std::int64_t first, std::int64_t end, const double* mean, const double* invstd,
                         const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat) {
    const double count = static_cast<double>(n * s);
    // The gradient reaching the batch norm at x[offset + k]: g, or g through the fused ReLU's mask.
    const auto reaching = [&](auto load, std::int64_t offset, std::int64_t k) {
        return relu_output ? relu_masked(load(g + offset + k), load(relu_output + offset + k)) : load(g + offset + k);
    };
    for (std::int64_t ch = first; ch < end; ++ch) {
        const T centre = static_cast<T>(mean[ch]);
        double dy = 0, dy_centered = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t offset = (i * c + ch) * s;
            const T* row = x + offset;
            dy += row_sum<A, T>(s, [&](auto load, std::int64_t k) { return reaching(load, offset, k); });
            dy_centered += row_sum<A, T>(
                s, [&](auto load, std::int64_t k) { return reaching(load, offset, k) * (load(row + k) - centre); });
        }
        sum_dy[ch] = dy;
        sum_dy_xhat[ch] = dy_centered * invstd[ch];
        if (!grad_x) continue;
        const ops::detail::BatchNormInputGradient<T> gradient(mean[ch], invstd[ch], weight[ch], dy, dy_centered, count,
                                                              batch_statistics);
        for (std::int64_t i = 0; i < n; ++i) {
            const std::int64_t offset = (i * c + ch) * s;
            const T* row = x + offset;
            T* drow = grad_x + offset;
            transform<A, T>(s, [&](std::int64_t k, auto load, auto store) {
                store(drow + k, gradient(reaching(load, offset, k), load(row + k)));
            });
        }
    }
}

}  // namespace norm_detail

template <class A>
void NormKernels<A>::normalize_rows_forward(const float* x, const float* weight, const float* bias, float* y,
                                            double* mean, double* invstd, std::int64_t rows, std::int64_t len,
                                            double eps) {
    norm_detail::normalize_rows_forward<A>(x, weight, bias, y, mean, invstd, rows, len, eps);
}
template <class A>
void NormKernels<A>::normalize_rows_forward(const double* x, const double* weight, const double* bias, double* y,
                                            double* mean, double* invstd, std::int64_t rows, std::int64_t len,
                                            double eps) {
    norm_detail::normalize_rows_forward<A>(x, weight, bias, y, mean, invstd, rows, len, eps);
}
template <class A>
void NormKernels<A>::normalize_rows_backward(const float* x, const float* g, const float* weight, const double* mean,
                                             const double* invstd, float* grad_x, double* grad_weight,
                                             double* grad_bias, std::int64_t rows, std::int64_t len) {
    norm_detail::normalize_rows_backward<A>(x, g, weight, mean, invstd, grad_x, grad_weight, grad_bias, rows, len);
}
template <class A>
void NormKernels<A>::normalize_rows_backward(const double* x, const double* g, const double* weight, const double* mean,
                                             const double* invstd, double* grad_x, double* grad_weight,
                                             double* grad_bias, std::int64_t rows, std::int64_t len) {
    norm_detail::normalize_rows_backward<A>(x, g, weight, mean, invstd, grad_x, grad_weight, grad_bias, rows, len);
}
template <class A>
void NormKernels<A>::batch_norm_statistics(const float* x, std::int64_t n, std::int64_t c, std::int64_t s,
                                           std::int64_t first, std::int64_t end, double* mean, double* var) {
    norm_detail::batch_norm_statistics<A>(x, n, c, s, first, end, mean, var);
}
template <class A>
void NormKernels<A>::batch_norm_statistics(const double* x, std::int64_t n, std::int64_t c, std::int64_t s,
                                           std::int64_t first, std::int64_t end, double* mean, double* var) {
    norm_detail::batch_norm_statistics<A>(x, n, c, s, first, end, mean, var);
}
template <class A>
void NormKernels<A>::batch_norm_transform(const float* x, float* y, std::int64_t n, std::int64_t c, std::int64_t s,
                                          std::int64_t first, std::int64_t end, const double* scale,
                                          const double* shift, bool relu) {
    norm_detail::batch_norm_transform<A>(x, y, n, c, s, first, end, scale, shift, relu);
}
template <class A>
void NormKernels<A>::batch_norm_transform(const double* x, double* y, std::int64_t n, std::int64_t c, std::int64_t s,
                                          std::int64_t first, std::int64_t end, const double* scale,
                                          const double* shift, bool relu) {
    norm_detail::batch_norm_transform<A>(x, y, n, c, s, first, end, scale, shift, relu);
}
template <class A>
void NormKernels<A>::batch_norm_backward(const float* x, const float* g, const float* relu_output, float* grad_x,
                                         std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                                         std::int64_t end, const double* mean, const double* invstd,
                                         const double* weight, bool batch_statistics, double* sum_dy,
                                         double* sum_dy_xhat) {
    norm_detail::batch_norm_backward<A>(x, g, relu_output, grad_x, n, c, s, first, end, mean, invstd, weight,
                                        batch_statistics, sum_dy, sum_dy_xhat);
}
template <class A>
void NormKernels<A>::batch_norm_backward(const double* x, const double* g, const double* relu_output, double* grad_x,
                                         std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                                         std::int64_t end, const double* mean, const double* invstd,
                                         const double* weight, bool batch_statistics, double* sum_dy,
                                         double* sum_dy_xhat) {
    norm_detail::batch_norm_backward<A>(x, g, relu_output, grad_x, n, c, s, first, end, mean, invstd, weight,
                                        batch_statistics, sum_dy, sum_dy_xhat);
}

}  // namespace lazynn::simd
