// softmax and log_softmax along one dim, numerically stable (max-shifted), with backward.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

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

/// Calls fn(base_pointer_offset, stride) for every lane along the dim.
template <class Fn>
void for_each_lane(const Lanes& l, Fn fn) {
    for (std::int64_t o = 0; o < l.outer; ++o) {
        for (std::int64_t i = 0; i < l.inner; ++i) fn(o * l.size * l.inner + i, l.inner);
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
            const T* in = x.impl().data<T>();
            T* o = out.impl().data<T>();
            for_each_lane(l, [&](std::int64_t base, std::int64_t stride) {
                T m = -std::numeric_limits<T>::infinity();
                for (std::int64_t k = 0; k < l.size; ++k) m = std::max(m, in[base + k * stride]);
                if (std::isinf(m) && m < 0) m = 0;
                T sum = 0;
                for (std::int64_t k = 0; k < l.size; ++k) sum += std::exp(in[base + k * stride] - m);
                const T log_sum = std::log(sum);
                for (std::int64_t k = 0; k < l.size; ++k) {
                    const T shifted = in[base + k * stride] - m;
                    o[base + k * stride] = log ? shifted - log_sum : std::exp(shifted) / sum;
                }
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
