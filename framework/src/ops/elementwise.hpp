#pragma once
// Elementwise kernels without autograd (internal). The public ops in elementwise.cpp wrap them
// and record backward nodes; backward closures call them directly.

#include "ops/strided.hpp"
#include "parallel.hpp"

#include <lazynn/extension.hpp>

#include <algorithm>
#include <cmath>
#include <type_traits>

namespace lazynn::kernels {

/// Elements per thread below which splitting an elementwise loop costs more than it saves.
inline constexpr std::int64_t kElementwiseGrain = extension::kElementwiseGrain;  // lazynn/extension.hpp
/// The same for functions that cost tens of cycles per element (exp, log, tanh, erf, ...).
inline constexpr std::int64_t kTranscendentalGrain = std::int64_t{1} << 12;

/// Runs body(begin, end) over [0, n), split across threads when n is at least two grains.
template <class Body>
void elementwise_chunks(std::int64_t n, Body&& body, std::int64_t grain = kElementwiseGrain) {
    if (n < 2 * grain) {
        body(std::int64_t{0}, n);
        return;
    }
    lazynn::detail::parallel_for(n, grain, body);
}

/// elementwise_chunks over `rows` rows of `row_length` elements each: whole rows per chunk, about
/// kElementwiseGrain elements per thread.
template <class Body>
void row_chunks(std::int64_t rows, std::int64_t row_length, Body&& body) {
    elementwise_chunks(rows, body,
                       std::max<std::int64_t>(1, kElementwiseGrain / std::max<std::int64_t>(row_length, 1)));
}

[[noreturn]] void throw_bool_unsupported(const char* op);

/// visit_dtype over float, double and int64: for kernels whose arithmetic means nothing on bool
/// (callers convert bool operands first); a bool tensor reaching one throws DtypeError naming `op`.
template <class Fn>
decltype(auto) visit_numeric(Dtype dtype, const char* op, Fn&& fn) {
    switch (dtype) {
        case Dtype::Float64:
            return fn(TypeTag<double>{});
        case Dtype::Int64:
            return fn(TypeTag<std::int64_t>{});
        case Dtype::Bool:
            throw_bool_unsupported(op);
        case Dtype::BFloat16:
        case Dtype::Float16:
            throw_float16_unsupported(op, dtype);
        case Dtype::Float32:
            break;
    }
    return fn(TypeTag<float>{});
}

/// A raw copy converted to `dtype` (no autograd); `t` itself when it already has that dtype.
Tensor converted(const Tensor& t, Dtype dtype);

/// out = f(x) elementwise. int64 and bool inputs are computed in float32 when `floating_result`.
template <class F>
Tensor unary(const Tensor& t, const char* name, F f, bool floating_result = true,
             std::int64_t grain = kElementwiseGrain) {
    const TensorImpl& in_impl = lazynn::detail::checked(t, name);
    if (in_impl.dtype == kBool && !floating_result) {
        // Runs in int64 and keeps the truth of the result.
        return converted(unary(converted(t, kInt64), name, f, false, grain), kBool);
    }
    if (is_float16(in_impl.dtype)) {
        // Computed in float32 and rounded once, as PyTorch's kernels do.
        return converted(unary(converted(t, kFloat32), name, f, floating_result, grain), in_impl.dtype);
    }
    const Dtype dtype = floating_result && !is_floating(in_impl.dtype) ? kFloat32 : in_impl.dtype;
    Tensor in = lazynn::detail::contiguous_data(converted(t, dtype));
    Tensor out = lazynn::detail::empty_tensor(in_impl.shape, dtype);
    visit_numeric(dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* x = in.impl().data<T>();
        T* y = out.impl().data<T>();
        elementwise_chunks(
            out.impl().numel(),
            [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) y[i] = static_cast<T>(f(x[i]));
            },
            grain);
    });
    return out;
}

/// PyTorch's result type of a binary op: operands with dims promote each other; a 0-dim operand
/// only lifts the result into its category (int64 -> floating), never within one.
Dtype result_type(const TensorImpl& a, const TensorImpl& b);

/// out = f(a, b) elementwise with broadcasting, computed in `dtype` (not bool: bool operands are
/// computed as int64); the result holds `dtype`, or bool when BoolResult (comparisons, logical
/// ops). BoolResult is a template argument so that each op instantiates one output type only.
template <bool BoolResult, class F>
Tensor binary_in(const Tensor& a, const Tensor& b, Dtype dtype, const char* name, F f,
                 std::int64_t grain = kElementwiseGrain) {
    if (is_float16(dtype)) {
        // Computed in float32 and rounded once, as PyTorch's kernels do.
        const Tensor out = binary_in<BoolResult>(a, b, kFloat32, name, f, grain);
        return BoolResult ? out : converted(out, dtype);
    }
    const TensorImpl& ia = lazynn::detail::checked(a, name);
    const TensorImpl& ib = lazynn::detail::checked(b, name);
    const Shape out_shape = broadcast_shapes(ia.shape, ib.shape, name);
    const Tensor ca = converted(a, dtype);
    const Tensor cb = converted(b, dtype);
    const TensorImpl& ka = ca.impl();
    const TensorImpl& kb = cb.impl();
    Tensor out = lazynn::detail::empty_tensor(out_shape, BoolResult ? kBool : dtype);
    visit_numeric(dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        using O = std::conditional_t<BoolResult, bool, T>;
        const T* pa = ka.data<T>();
        const T* pb = kb.data<T>();
        O* po = out.impl().data<O>();
        const std::int64_t n = out.impl().numel();
        const bool a_full = ka.shape == out_shape && ka.is_contiguous();
        const bool b_full = kb.shape == out_shape && kb.is_contiguous();
        if (a_full && b_full) {
            elementwise_chunks(
                n,
                [&](std::int64_t begin, std::int64_t end) {
                    for (std::int64_t i = begin; i < end; ++i) po[i] = static_cast<O>(f(pa[i], pb[i]));
                },
                grain);
        } else if (a_full && kb.numel() == 1) {
            const T s = *pb;
            elementwise_chunks(
                n,
                [&](std::int64_t begin, std::int64_t end) {
                    for (std::int64_t i = begin; i < end; ++i) po[i] = static_cast<O>(f(pa[i], s));
                },
                grain);
        } else if (b_full && ka.numel() == 1) {
            const T s = *pa;
            elementwise_chunks(
                n,
                [&](std::int64_t begin, std::int64_t end) {
                    for (std::int64_t i = begin; i < end; ++i) po[i] = static_cast<O>(f(s, pb[i]));
                },
                grain);
        } else {
            const std::array<Shape, 3> strides{out.impl().strides, broadcast_strides(ka, out_shape),
                                               broadcast_strides(kb, out_shape)};
            for_each_run<3>(out_shape, strides, [&](const auto& off, std::int64_t count, const auto& inner) {
                O* o = po + off[0];
                const T* x = pa + off[1];
                const T* y = pb + off[2];
                // Unit and zero (broadcast) strides get their own loops so the compiler vectorises them.
                if (inner[1] == 1 && inner[2] == 1) {
                    for (std::int64_t k = 0; k < count; ++k) o[k] = static_cast<O>(f(x[k], y[k]));
                } else if (inner[1] == 1 && inner[2] == 0) {
                    const T yv = *y;
                    for (std::int64_t k = 0; k < count; ++k) o[k] = static_cast<O>(f(x[k], yv));
                } else if (inner[1] == 0 && inner[2] == 1) {
                    const T xv = *x;
                    for (std::int64_t k = 0; k < count; ++k) o[k] = static_cast<O>(f(xv, y[k]));
                } else {
                    for (std::int64_t k = 0; k < count; ++k) o[k] = static_cast<O>(f(x[k * inner[1]], y[k * inner[2]]));
                }
            });
        }
    });
    return out;
}

/// out = f(a, b) elementwise with broadcasting, in result_type(a, b).
template <class F>
Tensor binary(const Tensor& a, const Tensor& b, const char* name, F f, std::int64_t grain = kElementwiseGrain) {
    const Dtype dtype = result_type(lazynn::detail::checked(a, name), lazynn::detail::checked(b, name));
    // Arithmetic on two bools runs in int64 and keeps the truth of the result (+ is or, * is and);
    // the int64 loops are the ones an int64 operand uses, so nothing more is instantiated.
    if (dtype == kBool) return converted(binary_in<false>(a, b, kInt64, name, f, grain), kBool);
    return binary_in<false>(a, b, dtype, name, f, grain);
}

/// out = f(g, s) elementwise inside a backward formula: two floating operands (a gradient and a
/// saved tensor, or two saved inputs), computed in result_type(g, s) and broadcast together. The
/// same values as binary(), but only float32/float64 and one contiguous loop are instantiated:
/// every op has its own derivative lambdas, and binary()'s three dtypes times seven stride loops
/// for each made unary.cpp alone take over two minutes to compile (18 s this way).
template <class F>
Tensor pointwise_gradient(const Tensor& g, const Tensor& s, F f, std::int64_t grain = kElementwiseGrain) {
    const TensorImpl& ig = lazynn::detail::checked(g, "backward");
    const TensorImpl& is = lazynn::detail::checked(s, "backward");
    const Dtype dtype = result_type(ig, is) == kFloat64 ? kFloat64 : kFloat32;
    const Shape out_shape = broadcast_shapes(ig.shape, is.shape, "backward");
    const auto operand = [&](const Tensor& t) {
        const Tensor c = converted(t, dtype);
        return lazynn::detail::contiguous_data(c.shape() == out_shape ? c : c.expand(out_shape));
    };
    const Tensor cg = operand(g);
    const Tensor cs = operand(s);
    Tensor out = lazynn::detail::empty_tensor(out_shape, dtype);
    const auto run = [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* pg = cg.impl().data<T>();
        const T* ps = cs.impl().data<T>();
        T* po = out.impl().data<T>();
        elementwise_chunks(
            out.impl().numel(),
            [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) po[i] = static_cast<T>(f(pg[i], ps[i]));
            },
            grain);
    };
    if (dtype == kFloat64)
        run(TypeTag<double>{});
    else
        run(TypeTag<float>{});
    return out;
}

/// self = f(self, other) in place; `other` broadcasts to self's shape and converts to its dtype.
template <class F>
void binary_inplace(TensorImpl& self, const Tensor& other, const char* name, F f) {
    if (self.dtype == kBool) throw_bool_unsupported(name);
    if (is_float16(self.dtype)) {
        // Computed in a float32 copy and rounded once back into self.
        Tensor wide = lazynn::detail::empty_tensor(self.shape, kFloat32);
        copy_strided(wide.impl(), self);
        binary_inplace(wide.impl(), other, name, f);
        copy_strided(self, wide.impl());
        self.storage->bump_version();
        return;
    }
    const Tensor c = converted(other, self.dtype);
    const TensorImpl& ko = c.impl();
    if (broadcast_shapes(self.shape, ko.shape, name) != self.shape) {
        throw ShapeError(std::string(name) + ": output with shape " + shape_to_list(self.shape) +
                         " doesn't match the broadcast shape " +
                         shape_to_list(broadcast_shapes(self.shape, ko.shape, name)));
    }
    visit_numeric(self.dtype, name, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* ps = self.data<T>();
        const T* po = ko.data<T>();
        if (self.is_contiguous() && ko.is_contiguous() && ko.shape == self.shape) {
            elementwise_chunks(self.numel(), [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) ps[i] = static_cast<T>(f(ps[i], po[i]));
            });
            return;
        }
        if (self.is_contiguous() && ko.numel() == 1) {  // a scalar (t.mul_(2.0)): read once, split over threads
            const T value = *po;
            elementwise_chunks(self.numel(), [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t i = begin; i < end; ++i) ps[i] = static_cast<T>(f(ps[i], value));
            });
            return;
        }
        const std::array<Shape, 2> strides{self.strides, broadcast_strides(ko, self.shape)};
        for_each_run<2>(self.shape, strides, [&](const auto& off, std::int64_t count, const auto& inner) {
            T* s = ps + off[0];
            const T* o = po + off[1];
            for (std::int64_t k = 0; k < count; ++k)
                s[k * inner[0]] = static_cast<T>(f(s[k * inner[0]], o[k * inner[1]]));
        });
    });
    self.storage->bump_version();
}

/// A 0-dim tensor holding `value`, in `like`'s dtype (float32 when `like` is int64 and the
/// value is not integral, PyTorch's scalar promotion).
Tensor scalar_like(const Tensor& like, double value);

}  // namespace lazynn::kernels
