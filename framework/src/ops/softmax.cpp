// softmax and log_softmax along one dim, numerically stable (max-shifted), with backward.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"
#include "parallel.hpp"
#include "simd/dispatch.hpp"
#include "simd/kernels.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

namespace {

/// A contiguous tensor seen as [outer, size, inner] around `dim`.
struct Lanes {
    std::int64_t outer = 1, size = 1, inner = 1;
};

Lanes lanes(const Shape& shape, std::size_t d) {
    Lanes l;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i < d)
            l.outer *= shape[i];
        else if (i == d)
            l.size = shape[i];
        else
            l.inner *= shape[i];
    }
    return l;
}

/// Calls fn(base_pointer_offset, stride) for every lane along the dim, the lanes split over the
/// threads (each lane is independent).
template <class Fn>
void for_each_lane(const Lanes& l, Fn fn) {
    const std::int64_t grain =
        std::max<std::int64_t>(1, kernels::kTranscendentalGrain / std::max<std::int64_t>(l.size, 1));
    detail::parallel_for(l.outer * l.inner, grain, [&](std::int64_t first, std::int64_t end) {
        for (std::int64_t lane = first; lane < end; ++lane) {
            const std::int64_t o = lane / l.inner, i = lane % l.inner;
            fn(o * l.size * l.inner + i, l.inner);
        }
    });
}

/// softmax or log_softmax of one lane of `size` values `stride` apart, max-shifted. exp runs once
/// per value, on the SIMD kernels when the lane is contiguous.
template <class T>
void softmax_lane(const T* in, T* out, std::int64_t size, std::int64_t stride, bool log) {
    T m = -std::numeric_limits<T>::infinity();
    for (std::int64_t k = 0; k < size; ++k) m = std::max(m, in[k * stride]);
    if (std::isinf(m) && m < 0) m = 0;
    for (std::int64_t k = 0; k < size; ++k) out[k * stride] = in[k * stride] - m;
    if (stride == 1) {
        simd::dispatch(
            [&](auto arch) { simd::MathKernels<decltype(arch)>::map(simd::MathFunction::exp, out, out, size); });
    } else {
        for (std::int64_t k = 0; k < size; ++k) out[k * stride] = std::exp(out[k * stride]);
    }
    T sum = 0;
    for (std::int64_t k = 0; k < size; ++k) sum += out[k * stride];
    if (log) {
        const T log_sum = std::log(sum);
        for (std::int64_t k = 0; k < size; ++k) out[k * stride] = (in[k * stride] - m) - log_sum;
    } else {
        for (std::int64_t k = 0; k < size; ++k) out[k * stride] /= sum;
    }
}

Tensor softmax_impl(const Tensor& t, std::int64_t dim, bool log) {
    const char* name = log ? "log_softmax" : "softmax";
    const TensorImpl& impl = detail::checked(t, name);
    if (is_float16(impl.dtype))
        return detail::through_float32(t, [&](const Tensor& x) { return softmax_impl(x, dim, log); });
    const Tensor x = detail::contiguous_data(!is_floating(impl.dtype) ? kernels::converted(t, kFloat32) : t);
    const Dtype dtype = x.dtype();
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(impl.shape.size())));
    const Lanes l = impl.shape.empty() ? Lanes{} : lanes(impl.shape, d);
    Tensor out = detail::empty_tensor(impl.shape, dtype);
    visit_dtype(dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        if constexpr (std::is_floating_point_v<T>) {
            if (out.impl().numel() == 0) return;  // no lanes to offset into (the data may be null)
            const T* in = x.impl().data<T>();
            T* o = out.impl().data<T>();
            for_each_lane(l, [&](std::int64_t base, std::int64_t stride) {
                softmax_lane(in + base, o + base, l.size, stride, log);
            });
        }
    });
    if (needs_grad({&t})) {
        record(
            out, log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", {t},
            [so = SavedTensor(out), l, log, dtype](const Tensor& g_in) {
                const Tensor y = so.unpack();
                const Tensor g = detail::contiguous_data(g_in);
                Tensor grad = detail::empty_tensor(y.shape(), dtype);
                visit_dtype(dtype, [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* yv = y.impl().data<T>();
                    const T* gv = g.impl().data<T>();
                    T* r = grad.impl().data<T>();
                    for_each_lane(l, [&](std::int64_t base, std::int64_t stride) {
                        T acc = 0;
                        for (std::int64_t k = 0; k < l.size; ++k) {
                            const std::int64_t at = base + k * stride;
                            acc += log ? gv[at] : gv[at] * yv[at];
                        }
                        for (std::int64_t k = 0; k < l.size; ++k) {
                            const std::int64_t at = base + k * stride;
                            r[at] = log ? gv[at] - std::exp(yv[at]) * acc : yv[at] * (gv[at] - acc);
                        }
                    });
                });
                return std::vector<Tensor>{grad};
            },
            true,
            [dim, log](const Tensor& g, const autograd::detail::BackwardInputs& in) {
                const Tensor input = in[0];
                if (log) {
                    const Tensor y = input.log_softmax(dim);
                    return std::vector<Tensor>{g - y.exp() * g.sum({dim}, true)};
                }
                const Tensor y = input.softmax(dim);
                return std::vector<Tensor>{y * (g - (g * y).sum({dim}, true))};
            });
    }
    return out;
}

}  // namespace

Tensor Tensor::softmax(std::int64_t dim) const { return softmax_impl(*this, dim, false); }
Tensor Tensor::log_softmax(std::int64_t dim) const { return softmax_impl(*this, dim, true); }
Tensor softmax(const Tensor& t, std::int64_t dim) { return t.softmax(dim); }
Tensor log_softmax(const Tensor& t, std::int64_t dim) { return t.log_softmax(dim); }

}  // namespace lazynn
