#pragma once
// BatchNormPoolKernels (simd/kernels.hpp) on xsimd batches (ops/batch_norm_pool_kernels.hpp): a
// register of windows at a time, loaded and split into their four candidates as in
// pooling_kernels_simd.hpp, normalised and ReLU'd in registers. The backward finds the picked
// candidate of every window with lane masks, NaN windows included, so no row needs a scalar pass.
// Included only by the per-architecture translation units.

#include "ops/batch_norm_input_gradient.hpp"
#include "ops/batch_norm_pool_kernels.hpp"
#include "ops/bfloat16_conversion_simd.hpp"
#include "ops/pooling_kernels_simd.hpp"
#include "simd/kernels.hpp"
#include "simd/lanes.hpp"

#include <array>
#include <cmath>
#include <type_traits>
#include <vector>

namespace lazynn::simd {

namespace bn_pool_detail {

using pooling_detail::later_if_larger;

/// A register of windows: each of the four candidates (top-left, top-right, bottom-left,
/// bottom-right) as loaded (x) and after the batch norm's affine map (rounded to bfloat16 when
/// `bfloat16_output`, T float) and the ReLU (y).
template <class T, class A>
struct NormalizedWindows {
    using B = Batch<T, A>;
    using M = typename B::batch_bool_type;
    std::array<B, 4> x, y;

    NormalizedWindows(const T* top, const T* bottom, B scale, B shift, bool bfloat16_output) {
        const auto t = deinterleave<T, A>(B::load_unaligned(top), B::load_unaligned(top + B::size));
        const auto b = deinterleave<T, A>(B::load_unaligned(bottom), B::load_unaligned(bottom + B::size));
        x = {t.first, t.second, b.first, b.second};
        // An explicit fma, so that the backward's recomputation rounds exactly as the forward did.
        for (std::size_t q = 0; q < 4; ++q) {
            B v = xsimd::fma(x[q], scale, shift);
            if constexpr (std::is_same_v<T, float>) {
                if (bfloat16_output) v = rounded_to_bfloat16<A>(v);
            }
            y[q] = xsimd::select(v < B(T(0)), B(T(0)), v);  // PyTorch's ReLU: NaN and -0.0 pass
        }
    }

    /// Each window's maximum, NaN where it holds one, -0.0 where the first zero is -0.0.
    B maximum() const { return later_if_larger(later_if_larger(y[0], y[1]), later_if_larger(y[2], y[3])); }

    /// Whether any candidate is NaN (then only maximum() and picks() give PyTorch's answer). The
    /// ReLU'd values are >= 0, +inf or NaN, so their sum is NaN exactly when one of them is.
    bool has_nan() const { return xsimd::any(xsimd::isnan((y[0] + y[1]) + (y[2] + y[3]))); }

    /// Each window's maximum up to the sign of a zero, for windows without NaN: what comparisons
    /// with the candidates and ReLU's mask need, in three instructions.
    B maximum_without_nan() const { return xsimd::max(xsimd::max(y[0], y[1]), xsimd::max(y[2], y[3])); }

    /// For windows without NaN: the position (0 to 3, as T) of the first candidate equal to the maximum.
    B first_maximum_position(B best) const {
        return xsimd::select(y[0] == best, B(T(0)),
                             xsimd::select(y[1] == best, B(T(1)), xsimd::select(y[2] == best, B(T(2)), B(T(3)))));
    }

    /// One-hot lane masks of the candidate max_pool2d's backward picks: the first equal to the
    /// maximum, or, in a window holding NaN, the last NaN (PyTorch's scan replaces its pick on
    /// every NaN). best is maximum().
    std::array<M, 4> picks(B best) const {
        std::array<M, 4> first_max{M(false), M(false), M(false), M(false)}, last_nan = first_max;
        M taken(false);
        for (std::size_t q = 0; q < 4; ++q) {
            const M equal = y[q] == best;
            first_max[q] = equal & ~taken;
            taken = taken | equal;
        }
        M later(false);
        for (std::size_t q = 4; q-- > 0;) {
            const M nan = xsimd::isnan(y[q]);
            last_nan[q] = nan & ~later;
            later = later | nan;
        }
        const M nan_window = xsimd::isnan(best);
        for (std::size_t q = 0; q < 4; ++q) first_max[q] = (nan_window & last_nan[q]) | (~nan_window & first_max[q]);
        return first_max;
    }

    /// The position (0 to 3, as T) of each window's pick (picks()).
    static B position(const std::array<M, 4>& pick) {
        return xsimd::select(pick[0], B(T(0)),
                             xsimd::select(pick[1], B(T(1)), xsimd::select(pick[2], B(T(2)), B(T(3)))));
    }

    /// The gradient each window passes to its picked candidate: g where the pick's ReLU output is
    /// above zero or NaN (ReLU's backward), else 0.
    static B through_relu(B g, B best) { return xsimd::select(best <= B(T(0)), B(T(0)), g); }

    /// The loaded value of the candidate at each window's position (0 to 3).
    B x_at(B position) const {
        return xsimd::select(position == B(T(0)), x[0],
                             xsimd::select(position == B(T(1)), x[1], xsimd::select(position == B(T(2)), x[2], x[3])));
    }
};

/// The lanes a row of n windows' partial last block sees for the first time (over_row's last
/// block overlaps the one before it, and sums must count those windows once): all of them when
/// n is a multiple of the register's lanes. Needs n >= the register's lanes.
template <class T, class A>
typename Batch<T, A>::batch_bool_type fresh_in_last_block(std::int64_t n) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    alignas(A::alignment()) T lane[L];
    for (std::int64_t l = 0; l < L; ++l) lane[l] = static_cast<T>(l);
    return B::load_aligned(lane) >= B(static_cast<T>(L - n % L));
}

/// Runs block(x0, fresh) over a row of n windows a register at a time, like over_row, where
/// `fresh` marks the lanes not seen before (last_fresh = fresh_in_last_block(n) for the last block).
template <class T, class A, class Block>
void over_row_once(std::int64_t n, typename Batch<T, A>::batch_bool_type last_fresh, Block&& block) {
    using M = typename Batch<T, A>::batch_bool_type;
    constexpr auto L = static_cast<std::int64_t>(Batch<T, A>::size);
    std::int64_t x = 0;
    for (; x + L <= n; x += L) block(x, M(true));
    if (x < n) block(n - L, last_fresh);
}

/// The lanes of v added in double (through memory: xsimd 8's float hadd on AVX-512 needs AVX512DQ).
template <class T, class A>
double lanes_total(Batch<T, A> v) {
    alignas(A::alignment()) T lanes[Batch<T, A>::size];
    v.store_aligned(lanes);
    double total = 0;
    for (const T lane : lanes) total += static_cast<double>(lane);
    return total;
}

/// Whether every value of p[0, len) is finite (0 * x is NaN for an infinite or NaN x).
template <class T, class A>
bool all_finite(const T* p, std::int64_t len) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    B zeros(T(0));
    std::int64_t k = 0;
    for (; k + L <= len; k += L) zeros = xsimd::fma(B::load_unaligned(p + k), B(T(0)), zeros);
    T rest = 0;
    for (; k < len; ++k) rest += p[k] * T(0);
    return lanes_total<T, A>(zeros) + static_cast<double>(rest) == 0.0;
}

template <class A, class T>
void forward(const T* x, T* out, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t first,
             std::int64_t end, const double* scale, const double* shift, bool bfloat16_output) {
    using B = Batch<T, A>;
    const std::int64_t oh = h / 2, ow = w / 2;
    for (std::int64_t ch = first; ch < end; ++ch) {
        const B a(static_cast<T>(scale[ch])), b(static_cast<T>(shift[ch]));
        for (std::int64_t i = 0; i < n; ++i) {
            const T* plane = x + (i * c + ch) * h * w;
            T* pooled = out + (i * c + ch) * oh * ow;
            for (std::int64_t y = 0; y < oh; ++y) {
                const T* top = plane + 2 * y * w;
                over_row<T, A>(ow, [&](std::int64_t x0) {
                    NormalizedWindows<T, A>(top + 2 * x0, top + w + 2 * x0, a, b, bfloat16_output)
                        .maximum()
                        .store_unaligned(pooled + y * ow + x0);
                });
            }
        }
    }
}

template <class A, class T>
void backward(const T* x, const T* grad_out, T* grad_x, std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w,
              std::int64_t first, std::int64_t end, const double* scale, const double* shift, const double* mean,
              const double* invstd, const double* weight, bool batch_statistics, double* sum_dy, double* sum_dy_xhat,
              bool bfloat16_output) {
    using B = Batch<T, A>;
    using Windows = NormalizedWindows<T, A>;
    const std::int64_t oh = h / 2, ow = w / 2;
    const double count = static_cast<double>(n * h * w);
    // Pass 1 leaves, for one channel's windows, the gradient each passes on and the position it
    // goes to, so that pass 2 need not find the picks again.
    std::vector<T> passed(static_cast<std::size_t>(n * oh * ow)), position(passed.size());
    const auto last_fresh = fresh_in_last_block<T, A>(ow);
    for (std::int64_t ch = first; ch < end; ++ch) {
        const B a(static_cast<T>(scale[ch])), b(static_cast<T>(shift[ch]));
        const T centre = static_cast<T>(mean[ch]);
        // Pass 1: the sums over the picked candidates, the only places dy is nonzero; each plane
        // summed in T and the planes in double, as batch_norm_backward sums its rows.
        double dy = 0, dy_centered = 0;
        for (std::int64_t i = 0; i < n; ++i) {
            const T* plane = x + (i * c + ch) * h * w;
            const T* g = grad_out + (i * c + ch) * oh * ow;
            B plane_dy(T(0)), plane_dy_centered(T(0));
            for (std::int64_t y = 0; y < oh; ++y) {
                const T* top = plane + 2 * y * w;
                const std::int64_t row = (i * oh + y) * ow;
                over_row_once<T, A>(ow, last_fresh, [&](std::int64_t x0, auto fresh) {
                    const Windows win(top + 2 * x0, top + w + 2 * x0, a, b, bfloat16_output);
                    B best, at;
                    if (!win.has_nan()) {
                        best = win.maximum_without_nan();
                        at = win.first_maximum_position(best);
                    } else {
                        best = win.maximum();
                        at = Windows::position(win.picks(best));
                    }
                    const B d = Windows::through_relu(B::load_unaligned(g + y * ow + x0), best);
                    d.store_unaligned(passed.data() + row + x0);
                    at.store_unaligned(position.data() + row + x0);
                    const B counted = xsimd::select(fresh, d, B(T(0)));
                    plane_dy += counted;
                    plane_dy_centered += counted * (win.x_at(at) - B(centre));
                });
            }
            dy += lanes_total<T, A>(plane_dy);
            dy_centered += lanes_total<T, A>(plane_dy_centered);
            // With batch statistics an input that is not finite makes the mean so: the plane needs
            // scanning only with running statistics.
            if (!std::isfinite(centre) || (!batch_statistics && !all_finite<T, A>(plane, h * w))) {
                dy_centered += ops::detail::unpicked_term(plane, h, w, centre, [&](std::int64_t y, std::int64_t x0) {
                    return static_cast<int>(position[static_cast<std::size_t>((i * oh + y) * ow + x0)]);
                });
            }
        }
        sum_dy[ch] = dy;
        sum_dy_xhat[ch] = dy_centered * invstd[ch];
        if (!grad_x) continue;
        // Pass 2: every input's gradient, batch norm's with dy from the picks (0 where no window picked).
        const ops::detail::BatchNormInputGradient<T> gradient(mean[ch], invstd[ch], weight[ch], dy, dy_centered, count,
                                                              batch_statistics);
        for (std::int64_t i = 0; i < n; ++i) {
            const T* plane = x + (i * c + ch) * h * w;
            T* grad_plane = grad_x + (i * c + ch) * h * w;
            for (std::int64_t y = 0; y < oh; ++y) {
                const T* top = plane + 2 * y * w;
                T* grad_top = grad_plane + 2 * y * w;
                const std::int64_t row = (i * oh + y) * ow;
                over_row<T, A>(ow, [&](std::int64_t x0) {
                    const auto t =
                        deinterleave<T, A>(B::load_unaligned(top + 2 * x0), B::load_unaligned(top + 2 * x0 + B::size));
                    const auto u = deinterleave<T, A>(B::load_unaligned(top + w + 2 * x0),
                                                      B::load_unaligned(top + w + 2 * x0 + B::size));
                    const B d = B::load_unaligned(passed.data() + row + x0);
                    const B at = B::load_unaligned(position.data() + row + x0);
                    const B zero(T(0));
                    const auto gets = [&](int q) { return xsimd::select(at == B(T(q)), d, zero); };
                    const auto top_pairs = interleave<T, A>(gradient(gets(0), t.first), gradient(gets(1), t.second));
                    const auto bottom_pairs = interleave<T, A>(gradient(gets(2), u.first), gradient(gets(3), u.second));
                    top_pairs.first.store_unaligned(grad_top + 2 * x0);
                    top_pairs.second.store_unaligned(grad_top + 2 * x0 + B::size);
                    bottom_pairs.first.store_unaligned(grad_top + w + 2 * x0);
                    bottom_pairs.second.store_unaligned(grad_top + w + 2 * x0 + B::size);
                });
                if (w % 2 != 0) {  // the column no window covers
                    for (const std::int64_t at : {2 * y * w + w - 1, (2 * y + 1) * w + w - 1})
                        grad_plane[at] = gradient(T(0), plane[at]);
                }
            }
            if (h % 2 != 0) {  // the row no window covers
                for (std::int64_t at = (h - 1) * w; at < h * w; ++at) grad_plane[at] = gradient(T(0), plane[at]);
            }
        }
    }
}

}  // namespace bn_pool_detail

template <class A>
void BatchNormPoolKernels<A>::forward(const float* x, float* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                                      const double* shift, bool bfloat16_output) {
    bn_pool_detail::forward<A>(x, out, n, c, h, w, first, end, scale, shift, bfloat16_output);
}
template <class A>
void BatchNormPoolKernels<A>::forward(const double* x, double* out, std::int64_t n, std::int64_t c, std::int64_t h,
                                      std::int64_t w, std::int64_t first, std::int64_t end, const double* scale,
                                      const double* shift, bool bfloat16_output) {
    bn_pool_detail::forward<A>(x, out, n, c, h, w, first, end, scale, shift, bfloat16_output);
}
template <class A>
void BatchNormPoolKernels<A>::backward(const float* x, const float* grad_out, float* grad_x, std::int64_t n,
                                       std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t first,
                                       std::int64_t end, const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat, bool bfloat16_output) {
    bn_pool_detail::backward<A>(x, grad_out, grad_x, n, c, h, w, first, end, scale, shift, mean, invstd, weight,
                                batch_statistics, sum_dy, sum_dy_xhat, bfloat16_output);
}
template <class A>
void BatchNormPoolKernels<A>::backward(const double* x, const double* grad_out, double* grad_x, std::int64_t n,
                                       std::int64_t c, std::int64_t h, std::int64_t w, std::int64_t first,
                                       std::int64_t end, const double* scale, const double* shift, const double* mean,
                                       const double* invstd, const double* weight, bool batch_statistics,
                                       double* sum_dy, double* sum_dy_xhat, bool bfloat16_output) {
    bn_pool_detail::backward<A>(x, grad_out, grad_x, n, c, h, w, first, end, scale, shift, mean, invstd, weight,
                                batch_statistics, sum_dy, sum_dy_xhat, bfloat16_output);
}

}  // namespace lazynn::simd
