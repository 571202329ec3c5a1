// More reductions: norm, all, any, cumprod, amax, amin. norm and amax/amin are written with
// differentiable tensor ops plus masks, so their backward needs no new kernel; cumprod's backward
// handles zeros exactly by recomputing the products without each element. Every backward here is
// differentiable again (create_graph).
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <limits>

namespace lazynn {

using autograd::detail::BackwardInputs;
using autograd::detail::kDifferentiable;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

namespace {

/// x / scale where scale != 0, else 0: the 2-norm's gradient direction with PyTorch's 0 at 0. The
/// division is by 1 where scale is 0, so a second derivative through it stays finite there too.
Tensor safe_divide(const Tensor& x, const Tensor& scale) {
    const Tensor zero = scale == 0.0;
    return where(zero, zeros({}, x.dtype()), x / where(zero, ones({}, scale.dtype()), scale));
}

/// d norm2 / dx = x / norm (0 where the norm is 0), times the incoming gradient. Written with
/// recording ops, so the create_graph formula is the same code on inputs that carry history.
Tensor norm2_backward(const Tensor& g, const Tensor& x, Tensor n, const Shape& rdims, bool keepdim) {
    Tensor gk = g;
    if (!keepdim) {
        Shape kept = x.shape();
        for (auto d : rdims) kept[static_cast<std::size_t>(normalize_dim(d, x.dim()))] = 1;
        n = n.reshape(kept);
        gk = g.reshape(kept);
    }
    return safe_divide(x, n) * gk;
}

/// The gradient of y = cumprod(x, d) for an upstream gradient g, in recording ops (also the
/// create_graph formula). d y_j / d x_i = prod_{k <= j, k != i} x_k for j >= i. Without zeros this is
/// y_j / x_i, giving reverse-cumsum(g * y) / x; rows holding a zero use the exact products (O(n^2)).
Tensor cumprod_backward(const Tensor& g, const Tensor& x, const Tensor& y, std::int64_t d) {
    if (x.dim() == 0) return g;
    bool has_zero = false;
    {
        NoGradGuard no_grad;
        has_zero = (x == 0.0).any().item<bool>();
    }
    if (!has_zero) return (g * y).flip({d}).cumsum(d).flip({d}) / x;
    const std::int64_t len = x.size(d);
    std::vector<Tensor> parts;
    for (std::int64_t i = 0; i < len; ++i) {
        // prod_{k < i} x_k, then times prod_{i < k <= j} x_k for each j >= i.
        const Tensor before = i ? x.narrow(d, 0, i).prod(d, true) : ones_like(x.narrow(d, 0, 1));
        if (i + 1 == len) {
            parts.push_back(before * g.narrow(d, i, 1));
            continue;
        }
        const Tensor after = x.narrow(d, i + 1, len - i - 1).cumprod(d);
        const Tensor terms = cat({g.narrow(d, i, 1), g.narrow(d, i + 1, len - i - 1) * after}, d);
        parts.push_back(before * terms.sum({d}, true));
    }
    return cat(parts, d);
}

/// Every dim when `dims` is empty (the reductions' convention).
Shape all_dims_if_empty(const Tensor& t, const Shape& dims) {
    if (!dims.empty()) return dims;
    Shape out;
    for (std::int64_t d = 0; d < t.dim(); ++d) out.push_back(d);
    return out;
}

Tensor extremum_dims(const Tensor& t, const Shape& dims_in, bool keepdim, bool is_max) {
    const char* name = is_max ? "amax" : "amin";
    const TensorImpl& ti = detail::checked(t, name);
    if (is_float16(ti.dtype)) {
        return detail::through_float32(t, [&](const Tensor& x) { return extremum_dims(x, dims_in, keepdim, is_max); });
    }
    const Shape dims = all_dims_if_empty(t, dims_in);
    for (auto d : dims) {
        if (!ti.shape.empty() && ti.shape[static_cast<std::size_t>(normalize_dim(d, t.dim()))] == 0) {
            throw IndexError(std::string(name) + "(): Expected reduction dim " + std::to_string(d) +
                             " to have non-zero size.");
        }
    }
    if (ti.numel() == 0 && ti.shape.empty()) throw IndexError(std::string(name) + "(): Expected a non-empty input");
    // Reduce one dim at a time (values only, reduced dims kept as 1), then drop them unless keepdim.
    Tensor kept;
    {
        NoGradGuard no_grad;
        kept = t;
        for (auto d : dims) kept = is_max ? kept.max(d, true).values : kept.min(d, true).values;
        if (ti.shape.empty()) kept = kept.reshape({});
    }
    Shape out_shape;
    std::vector<bool> reduced(ti.shape.size(), false);
    for (auto d : dims) {
        if (!ti.shape.empty()) reduced[static_cast<std::size_t>(normalize_dim(d, t.dim()))] = true;
    }
    for (std::size_t k = 0; k < ti.shape.size(); ++k) {
        if (!reduced[k] || keepdim) out_shape.push_back(reduced[k] ? 1 : ti.shape[k]);
    }
    Tensor out = kept.reshape(out_shape).clone();
    if (needs_grad({&t})) {
        record(
            out, is_max ? "AmaxBackward0" : "AminBackward0", {t},
            [dims, saved = SavedTensor(t), saved_kept = SavedTensor(kept)](const Tensor& g) {
                const Tensor x = saved.unpack();
                const Tensor best = saved_kept.unpack();
                // The extremum's positions share the gradient evenly (PyTorch's amax/amin rule).
                const Tensor hit = (x == best).to(x.dtype());
                const Tensor count = hit.sum(dims, true);
                return std::vector<Tensor>{hit * (g.reshape(best.shape()) / count)};
            },
            true, kDifferentiable);
    }
    return out;
}

Tensor norm_impl(const Tensor& t, double p, const Shape& dims_in, bool keepdim) {
    const TensorImpl& ti = detail::checked(t, "norm");
    if (is_float16(ti.dtype))
        return detail::through_float32(t, [&](const Tensor& x) { return norm_impl(x, p, dims_in, keepdim); });
    if (!is_floating(ti.dtype)) {
        throw DtypeError("linalg.vector_norm: Expected a floating point or complex tensor as input. Got " +
                         dtype_name(ti.dtype));
    }
    if (p < 0 && std::isfinite(p)) throw ValueError("norm: p must be >= 0 (or inf), got " + std::to_string(p));
    const Shape dims = all_dims_if_empty(t, dims_in);
    const Tensor x = ti.shape.empty() ? t.reshape({1}) : t;
    const Shape rdims = ti.shape.empty() ? Shape{0} : dims;
    Tensor out;
    if (std::isinf(p)) {
        out = p > 0 ? x.abs().amax(rdims, keepdim) : x.abs().amin(rdims, keepdim);
    } else if (p == 1) {
        out = x.abs().sum(rdims, keepdim);
    } else if (p == 2) {
        // sqrt(sum x^2) as one op: its gradient x / norm is 0 where the norm is 0 (sqrt's would be NaN).
        Tensor squares;
        {
            NoGradGuard no_grad;
            squares = (x * x).sum(rdims, keepdim);
        }
        out = squares.sqrt();
        if (needs_grad({&x})) {
            record(
                out, "NormBackward1", {x},
                [rdims, keepdim, saved = SavedTensor(x), so = SavedTensor(out)](const Tensor& g) {
                    return std::vector<Tensor>{norm2_backward(g, saved.unpack(), so.unpack(), rdims, keepdim)};
                },
                true,
                [rdims, keepdim](const Tensor& g, const BackwardInputs& in) {
                    const Tensor xv = in[0];
                    return std::vector<Tensor>{norm2_backward(g, xv, xv.norm(2.0, rdims, keepdim), rdims, keepdim)};
                });
        }
    } else if (p == 0) {
        NoGradGuard no_grad;
        out = (x != 0.0).to(ti.dtype).sum(rdims, keepdim);
    } else {
        // (sum |x|^p)^(1/p); the gradient is x |x|^(p-2) / norm^(p-1), 0 where the norm is 0.
        const Tensor a = x.abs();
        const Tensor s = a.pow(p).sum(rdims, true);
        // The root is taken of 1 where the sum is 0, so its gradient there is finite and masked to 0.
        const Tensor zero = s == 0.0;
        const Tensor n = where(zero, zeros({}, ti.dtype), where(zero, ones({}, ti.dtype), s).pow(1.0 / p));
        out = keepdim ? n : n.sum(rdims);  // dropping size-1 dims
    }
    if (ti.shape.empty() && out.dim() > 0) out = out.reshape({});
    return out;
}

Tensor truth_reduce(const Tensor& t, const Shape& dims, bool keepdim, const char* name, bool want_all) {
    detail::checked(t, name);
    NoGradGuard no_grad;
    // all: no false element; any: some true element. Counted in int64 over the bool truth.
    const Tensor truth = t != 0.0;
    const Tensor count = (want_all ? logical_not(truth) : truth).sum(dims, keepdim);
    return want_all ? count == 0.0 : count != 0.0;
}

}  // namespace

Tensor Tensor::norm(double p) const { return norm_impl(*this, p, {}, false); }
Tensor Tensor::norm(double p, const Shape& dims, bool keepdim) const { return norm_impl(*this, p, dims, keepdim); }
Tensor Tensor::amax(const Shape& dims, bool keepdim) const { return extremum_dims(*this, dims, keepdim, true); }
Tensor Tensor::amin(const Shape& dims, bool keepdim) const { return extremum_dims(*this, dims, keepdim, false); }

Tensor Tensor::all() const { return truth_reduce(*this, {}, false, "all", true); }
Tensor Tensor::all(std::int64_t dim, bool keepdim) const { return truth_reduce(*this, {dim}, keepdim, "all", true); }
Tensor Tensor::any() const { return truth_reduce(*this, {}, false, "any", false); }
Tensor Tensor::any(std::int64_t dim, bool keepdim) const { return truth_reduce(*this, {dim}, keepdim, "any", false); }

Tensor Tensor::cumprod(std::int64_t dim) const {
    // Shapes: out has self's shape. int64 and bool inputs give int64 (PyTorch).
    const TensorImpl& ti = detail::checked(*this, "cumprod");
    const Tensor x = ti.dtype == kBool ? kernels::converted(*this, kInt64) : *this;
    const auto rank = static_cast<std::int64_t>(ti.shape.size());
    const std::int64_t d = normalize_dim(dim, rank);
    const Tensor rows = detail::contiguous_data(rank ? x.transpose(d, rank - 1) : x.reshape({1}));
    Tensor out_rows = detail::empty_tensor(rows.shape(), rows.dtype());
    const std::int64_t n = rows.size(-1);
    const std::int64_t outer = n ? rows.numel() / n : 0;
    kernels::visit_numeric(rows.dtype(), "cumprod", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = rows.impl().data<T>();
        T* o = out_rows.impl().data<T>();
        kernels::row_chunks(outer, n, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t r = begin; r < end; ++r) {
                T acc = 1;
                for (std::int64_t i = 0; i < n; ++i) {
                    if constexpr (std::is_same_v<T, std::int64_t>) {
                        acc =
                            static_cast<T>(static_cast<std::uint64_t>(acc) * static_cast<std::uint64_t>(in[r * n + i]));
                    } else {
                        acc *= in[r * n + i];
                    }
                    o[r * n + i] = acc;
                }
            }
        });
    });
    Tensor out = rank ? out_rows.transpose(d, rank - 1).contiguous() : out_rows.reshape({});
    if (needs_grad({this})) {
        record(
            out, "CumprodBackward0", {*this},
            [d, saved = SavedTensor(*this), so = SavedTensor(out)](const Tensor& g) {
                return std::vector<Tensor>{cumprod_backward(g, saved.unpack(), so.unpack(), d)};
            },
            true,
            [d](const Tensor& g, const BackwardInputs& in) {
                const Tensor xv = in[0];
                return std::vector<Tensor>{cumprod_backward(g, xv, xv.cumprod(d), d)};
            });
    }
    return out;
}

Tensor norm(const Tensor& t, double p) { return t.norm(p); }
Tensor all(const Tensor& t) { return t.all(); }
Tensor any(const Tensor& t) { return t.any(); }
Tensor cumprod(const Tensor& t, std::int64_t dim) { return t.cumprod(dim); }
Tensor cumsum(const Tensor& t, std::int64_t dim) { return t.cumsum(dim); }
Tensor amax(const Tensor& t, const Shape& dims, bool keepdim) { return t.amax(dims, keepdim); }
Tensor amin(const Tensor& t, const Shape& dims, bool keepdim) { return t.amin(dims, keepdim); }

}  // namespace lazynn
