// Reductions over all or some dims: sum, mean, var, std, prod, max, min, argmax, argmin, logsumexp,
// and the scan cumsum.
// Each moves the reduced dims last, makes the data contiguous as [outer, inner] rows, and
// reduces every row with a raw-pointer loop (float32 accumulates in double).
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <lazynn/autocast.hpp>

#include <algorithm>
#include <array>
#include <limits>

namespace lazynn {

using autograd::detail::BackwardInputs;
using autograd::detail::kDifferentiable;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

namespace {

struct ReducePlan {
    Tensor rows;           // contiguous [outer, inner]
    Shape kept_shape;      // output shape with reduced dims kept as 1
    Shape out_shape;       // output shape honouring keepdim
    Shape permutation;     // kept dims, then reduced dims
    Shape permuted_shape;  // input shape under `permutation`
    std::int64_t outer = 1;
    std::int64_t inner = 1;
};

ReducePlan plan(const Tensor& t, const Shape& dims_given, bool keepdim, const char* name) {
    const TensorImpl& impl = detail::checked(t, name);
    const auto rank = static_cast<std::int64_t>(impl.shape.size());
    std::vector<bool> reduced(static_cast<std::size_t>(rank), dims_given.empty());
    for (auto d : dims_given) {
        const auto nd = static_cast<std::size_t>(normalize_dim(d, rank));
        if (rank > 0 && reduced[nd] && !dims_given.empty()) {
            throw ValueError(std::string(name) + ": dim " + std::to_string(d) +
                             " appears multiple times in the list of dims");
        }
        if (rank > 0) reduced[nd] = true;
    }
    ReducePlan p;
    for (std::int64_t d = 0; d < rank; ++d) {
        const auto ud = static_cast<std::size_t>(d);
        if (!reduced[ud]) {
            p.permutation.push_back(d);
            p.outer *= impl.shape[ud];
            p.out_shape.push_back(impl.shape[ud]);
            p.kept_shape.push_back(impl.shape[ud]);
        } else {
            p.kept_shape.push_back(1);
            if (keepdim) p.out_shape.push_back(1);
        }
    }
    if (keepdim) p.out_shape = p.kept_shape;
    for (std::int64_t d = 0; d < rank; ++d) {
        if (reduced[static_cast<std::size_t>(d)]) {
            p.permutation.push_back(d);
            p.inner *= impl.shape[static_cast<std::size_t>(d)];
        }
    }
    for (auto d : p.permutation) p.permuted_shape.push_back(impl.shape[static_cast<std::size_t>(d)]);
    NoGradGuard no_grad;
    p.rows = detail::contiguous_data(t.permute(p.permutation));
    return p;
}

/// Applies `row_fn(const T* row, inner) -> T` to every row.
template <class RowFn>
Tensor reduce_rows(const ReducePlan& p, Dtype out_dtype, RowFn row_fn) {
    Tensor out = detail::empty_tensor(p.out_shape, out_dtype);
    visit_dtype(p.rows.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = p.rows.impl().data<T>();
        visit_dtype(out_dtype, [&](auto otag) {
            using O = typename decltype(otag)::type;
            O* o = out.impl().data<O>();
            // Rows in parallel (each row's result is its own loop's, so the split changes nothing).
            kernels::row_chunks(p.outer, p.inner, [&](std::int64_t begin, std::int64_t end) {
                for (std::int64_t r = begin; r < end; ++r) o[r] = static_cast<O>(row_fn(in + r * p.inner, p.inner));
            });
        });
    });
    return out;
}

template <class T>
using Acc = std::conditional_t<std::is_same_v<T, std::int64_t>, std::int64_t, double>;

/// a + b and a * b, wrapping around for int64 as PyTorch's (two's complement) results do instead of
/// overflowing, which C++ leaves undefined; plain arithmetic for floating point.
template <class T>
T add_wrapping(T a, T b) {
    if constexpr (std::is_same_v<T, std::int64_t>) {
        return static_cast<T>(static_cast<std::uint64_t>(a) + static_cast<std::uint64_t>(b));
    } else {
        return a + b;
    }
}

template <class T>
T multiply_wrapping(T a, T b) {
    if constexpr (std::is_same_v<T, std::int64_t>) {
        return static_cast<T>(static_cast<std::uint64_t>(a) * static_cast<std::uint64_t>(b));
    } else {
        return a * b;
    }
}

/// Broadcasts a reduced gradient back over the input shape.
Tensor expand_grad(const Tensor& g, const Shape& kept_shape, const Shape& input_shape) {
    return g.reshape(kept_shape).expand(input_shape);
}

/// Reductions over leading dims of contiguous data (bias gradients, batch sums) accumulate whole
/// rows in place instead of permuting a copy. Returns false when the layout does not qualify.
bool leading_dims(const TensorImpl& impl, const Shape& dims, std::int64_t& reduced, std::int64_t& inner) {
    if (dims.empty() || impl.shape.empty() || !impl.is_contiguous()) return false;
    const auto rank = static_cast<std::int64_t>(impl.shape.size());
    std::vector<bool> mask(static_cast<std::size_t>(rank), false);
    for (auto d : dims) {
        const auto nd = static_cast<std::size_t>(normalize_dim(d, rank));
        if (mask[nd]) return false;
        mask[nd] = true;
    }
    std::size_t k = 0;
    while (k < mask.size() && mask[k]) ++k;
    for (std::size_t j = k; j < mask.size(); ++j) {
        if (mask[j]) return false;
    }
    if (k == 0 || k == mask.size()) return false;
    reduced = 1;
    inner = 1;
    for (std::size_t j = 0; j < mask.size(); ++j) (j < k ? reduced : inner) *= impl.shape[j];
    return true;
}

Tensor sum_leading(const Tensor& t, const Shape& dims, bool keepdim, std::int64_t reduced, std::int64_t inner) {
    const TensorImpl& impl = t.impl();
    Shape out_shape, kept_shape;
    const auto rank = static_cast<std::int64_t>(impl.shape.size());
    std::vector<bool> mask(static_cast<std::size_t>(rank), false);
    for (auto d : dims) mask[static_cast<std::size_t>(normalize_dim(d, rank))] = true;
    for (std::size_t j = 0; j < mask.size(); ++j) {
        kept_shape.push_back(mask[j] ? 1 : impl.shape[j]);
        if (!mask[j] || keepdim) out_shape.push_back(mask[j] ? 1 : impl.shape[j]);
    }
    Tensor out = zeros(out_shape, impl.dtype);
    visit_dtype(impl.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = impl.data<T>();
        T* o = out.impl().data<T>();
        for (std::int64_t i = 0; i < reduced; ++i) {
            const T* row = in + i * inner;
            for (std::int64_t j = 0; j < inner; ++j) o[j] = add_wrapping(o[j], row[j]);
        }
    });
    if (needs_grad({&t})) {
        record(
            out, "SumBackward1", {t},
            [kept_shape, shape = impl.shape](const Tensor& g) {
                return std::vector<Tensor>{expand_grad(g, kept_shape, shape)};
            },
            false, kDifferentiable);
    }
    return out;
}

/// Sums, products and running sums of bools count in int64, as in PyTorch.
Tensor bool_as_int64(const Tensor& t, const char* name) {
    return detail::checked(t, name).dtype == kBool ? kernels::converted(t, kInt64) : t;
}

Tensor sum_impl(const Tensor& t_in, const Shape& dims, bool keepdim) {
    if (is_float16(detail::checked(t_in, "sum").dtype))
        return detail::through_float32(t_in, [&](const Tensor& x) { return sum_impl(x, dims, keepdim); });
    const Tensor t = bool_as_int64(t_in, "sum");
    std::int64_t reduced = 0, inner = 0;
    if (leading_dims(detail::checked(t, "sum"), dims, reduced, inner))
        return sum_leading(t, dims, keepdim, reduced, inner);
    const ReducePlan p = plan(t, dims, keepdim, "sum");
    Tensor out = reduce_rows(p, t.dtype(), [](const auto* row, std::int64_t n) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(row)>>;
        Acc<T> acc = 0;
        for (std::int64_t i = 0; i < n; ++i) acc = add_wrapping<Acc<T>>(acc, row[i]);
        return acc;
    });
    if (needs_grad({&t})) {
        record(
            out, dims.empty() ? "SumBackward0" : "SumBackward1", {t},
            [kept = p.kept_shape, shape = t.shape()](const Tensor& g) {
                return std::vector<Tensor>{expand_grad(g, kept, shape)};
            },
            false, kDifferentiable);
    }
    return out;
}

Tensor mean_impl(const Tensor& t, const Shape& dims, bool keepdim) {
    if (is_float16(detail::checked(t, "mean").dtype))
        return detail::through_float32(t, [&](const Tensor& x) { return mean_impl(x, dims, keepdim); });
    if (!t.is_floating_point()) {
        throw DtypeError("mean(): could not infer output dtype. Input dtype must be a floating point dtype. Got: " +
                         dtype_name(t.dtype()));
    }
    const ReducePlan p = plan(t, dims, keepdim, "mean");
    Tensor out = reduce_rows(p, t.dtype(), [](const auto* row, std::int64_t n) {
        double acc = 0;
        for (std::int64_t i = 0; i < n; ++i) acc += row[i];
        return n ? acc / static_cast<double>(n) : std::numeric_limits<double>::quiet_NaN();
    });
    if (needs_grad({&t})) {
        const auto count = static_cast<double>(p.inner);
        record(
            out, dims.empty() ? "MeanBackward0" : "MeanBackward1", {t},
            [kept = p.kept_shape, shape = t.shape(), count](const Tensor& g) {
                return std::vector<Tensor>{expand_grad(g / count, kept, shape)};
            },
            false, kDifferentiable);
    }
    return out;
}

/// sum((x - mean)^2) / max(0, N - correction) per row, without autograd (PyTorch divides by zero
/// when N <= correction: inf, or NaN for a constant row).
Tensor variance_values(const ReducePlan& p, Dtype dtype, double correction) {
    return reduce_rows(p, dtype, [correction](const auto* row, std::int64_t n) {
        double mean = 0;
        for (std::int64_t i = 0; i < n; ++i) mean += row[i];
        mean /= static_cast<double>(n);
        double ss = 0;
        for (std::int64_t i = 0; i < n; ++i) ss += (row[i] - mean) * (row[i] - mean);
        return ss / std::max(0.0, static_cast<double>(n) - correction);
    });
}

Tensor var_impl(const Tensor& t, const Shape& dims, double correction, bool keepdim, const char* name) {
    if (is_float16(detail::checked(t, name).dtype)) {
        return detail::through_float32(t,
                                       [&](const Tensor& x) { return var_impl(x, dims, correction, keepdim, name); });
    }
    if (!t.is_floating_point()) throw_needs_floating(name, t.dtype());
    const ReducePlan p = plan(t, dims, keepdim, name);
    Tensor out = variance_values(p, t.dtype(), correction);
    if (needs_grad({&t})) {
        const double denom = std::max(0.0, static_cast<double>(p.inner) - correction);
        record(
            out, "VarBackward0", {t},
            [kept = p.kept_shape, shape = t.shape(), dims, denom, saved = SavedTensor(t)](const Tensor& g) {
                const Tensor x = saved.unpack();
                const Tensor centered = x - x.mean(dims, true);
                return std::vector<Tensor>{expand_grad(g, kept, shape) * centered * (2.0 / denom)};
            },
            true,
            [kept = p.kept_shape, shape = t.shape(), dims, denom](const Tensor& g, const BackwardInputs& in) {
                const Tensor x = in[0];
                return std::vector<Tensor>{expand_grad(g, kept, shape) * (x - x.mean(dims, true)) * (2.0 / denom)};
            });
    }
    return out;
}

/// std as its own op: its backward is var's divided by 2 std, taken as 0 where std is 0 (a constant
/// row), as PyTorch does, instead of the NaN that sqrt's backward would give.
Tensor std_impl(const Tensor& t, const Shape& dims, double correction, bool keepdim) {
    if (is_float16(detail::checked(t, "std").dtype))
        return detail::through_float32(t, [&](const Tensor& x) { return std_impl(x, dims, correction, keepdim); });
    if (!t.is_floating_point()) throw_needs_floating("std", t.dtype());
    const ReducePlan p = plan(t, dims, keepdim, "std");
    Tensor out = kernels::unary(variance_values(p, t.dtype(), correction), "std", [](auto v) { return std::sqrt(v); });
    if (needs_grad({&t})) {
        const double denom = std::max(0.0, static_cast<double>(p.inner) - correction);
        record(
            out, "StdBackward0", {t},
            [kept = p.kept_shape, shape = t.shape(), dims, denom, saved = SavedTensor(t),
             saved_out = SavedTensor(out)](const Tensor& g) {
                const Tensor x = saved.unpack();
                const Tensor per_row = kernels::binary(g, saved_out.unpack(), "std_backward", [](auto gv, auto s) {
                    return s == 0 ? decltype(gv)(0) : gv / s;
                });
                const Tensor centered = x - x.mean(dims, true);
                return std::vector<Tensor>{expand_grad(per_row, kept, shape) * centered * (1.0 / denom)};
            },
            true,
            [kept = p.kept_shape, shape = t.shape(), dims, correction, denom](const Tensor& g,
                                                                              const BackwardInputs& in) {
                const Tensor x = in[0];
                const Tensor s = x.std(dims, correction, true);
                // Zero where std is 0 (constant mask), as in the fast formula.
                const Tensor per_row = where(s == 0.0, zeros({}, g.dtype()), g.reshape(kept) / s);
                return std::vector<Tensor>{per_row.expand(shape) * (x - x.mean(dims, true)) * (1.0 / denom)};
            });
    }
    return out;
}

/// max/min over one dim: values and int64 indices of the first extremum.
ValuesIndices extremum_dim(const Tensor& t, std::int64_t dim, bool keepdim, bool is_max) {
    const char* name = is_max ? "max" : "min";
    const TensorImpl& impl = detail::checked(t, name);
    if (is_float16(impl.dtype)) {
        ValuesIndices wide = extremum_dim(t.to(kFloat32), dim, keepdim, is_max);
        return {wide.values.to(impl.dtype), wide.indices};
    }
    const auto rank = static_cast<std::int64_t>(impl.shape.size());
    const std::int64_t reduced_dim = normalize_dim(dim, rank);
    if (rank > 0 && impl.shape[static_cast<std::size_t>(reduced_dim)] == 0) {
        throw IndexError(std::string(name) + "(): Expected reduction dim " + std::to_string(dim) +
                         " to have non-zero size.");
    }
    const ReducePlan p = plan(t, {dim}, keepdim, name);
    Tensor values = detail::empty_tensor(p.out_shape, impl.dtype);
    Tensor indices = detail::empty_tensor(p.out_shape, kInt64);
    visit_dtype(impl.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = p.rows.impl().data<T>();
        T* v = values.impl().data<T>();
        std::int64_t* ix = indices.impl().data<std::int64_t>();
        for (std::int64_t r = 0; r < p.outer; ++r) {
            const T* row = in + r * p.inner;
            std::int64_t best = 0;
            for (std::int64_t i = 1; i < p.inner; ++i) {
                if (std::isnan(static_cast<double>(row[best]))) break;
                const bool better = is_max ? row[i] > row[best] : row[i] < row[best];
                if (better || std::isnan(static_cast<double>(row[i]))) best = i;
            }
            v[r] = row[best];
            ix[r] = best;
        }
    });
    if (needs_grad({&t})) {
        auto scatter = [p_shape = p.permuted_shape, perm = p.permutation, outer = p.outer, inner = p.inner,
                        saved_ix = SavedTensor(indices), dtype = impl.dtype](const Tensor& g) {
            Tensor rows = zeros({outer, inner}, dtype);
            const Tensor gc = detail::contiguous_data(g);
            const Tensor ix = saved_ix.unpack();
            visit_dtype(dtype, [&](auto tag) {
                using T = typename decltype(tag)::type;
                T* r = rows.impl().data<T>();
                const T* gv = gc.impl().data<T>();
                const std::int64_t* iv = ix.impl().data<std::int64_t>();
                for (std::int64_t o = 0; o < outer; ++o) r[o * inner + iv[o]] = gv[o];
            });
            Shape inverse(perm.size());
            for (std::size_t i = 0; i < perm.size(); ++i)
                inverse[static_cast<std::size_t>(perm[i])] = static_cast<std::int64_t>(i);
            return std::vector<Tensor>{rows.reshape(p_shape).permute(inverse).contiguous()};
        };
        // For create_graph: the gradient times the (constant) one-hot mask of the chosen elements.
        auto graph = [scatter, kept = p.kept_shape, shape = impl.shape](const Tensor& g, const BackwardInputs&) {
            Tensor mask;
            {
                NoGradGuard no_grad;
                mask = scatter(ones(g.shape(), g.dtype()))[0];
            }
            return std::vector<Tensor>{mask * expand_grad(g, kept, shape)};
        };
        record(values, is_max ? "MaxBackward0" : "MinBackward0", {t}, scatter, true, graph);
    }
    return {values, indices};
}

/// max/min of all elements; the gradient is shared evenly among ties (PyTorch's rule).
Tensor extremum_all(const Tensor& t, bool is_max) {
    const char* name = is_max ? "max" : "min";
    const TensorImpl& impl = detail::checked(t, name);
    if (is_float16(impl.dtype))
        return detail::through_float32(t, [&](const Tensor& x) { return extremum_all(x, is_max); });
    if (impl.numel() == 0) {
        throw RuntimeError(std::string(name) +
                           "(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction "
                           "dim with the 'dim' argument.");
    }
    const ReducePlan p = plan(t, {}, false, name);
    Tensor out = reduce_rows(p, impl.dtype, [is_max](const auto* row, std::int64_t n) {
        auto best = row[0];
        for (std::int64_t i = 1; i < n; ++i) {
            if (std::isnan(static_cast<double>(best))) break;
            if ((is_max ? row[i] > best : row[i] < best) || std::isnan(static_cast<double>(row[i]))) best = row[i];
        }
        return best;
    });
    if (needs_grad({&t})) {
        record(
            out, is_max ? "MaxBackward1" : "MinBackward1", {t},
            [saved = SavedTensor(t), so = SavedTensor(out)](const Tensor& g) {
                // The extremum's positions share the gradient: the NaNs when the result is NaN.
                const Tensor mask = kernels::binary(saved.unpack(), so.unpack(), "max_backward", [](auto x, auto best) {
                    using T = decltype(x);
                    const bool hit = best != best ? x != x : x == best;
                    return hit ? T(1) : T(0);
                });
                return std::vector<Tensor>{mask * (g / mask.sum())};
            },
            true, kDifferentiable);
    }
    return out;
}

/// [outer, inner] rows of a plan back to the input's layout (contiguous).
Tensor rows_to_input(const Tensor& rows, const ReducePlan& p) {
    Shape inverse(p.permutation.size());
    for (std::size_t i = 0; i < p.permutation.size(); ++i) {
        inverse[static_cast<std::size_t>(p.permutation[i])] = static_cast<std::int64_t>(i);
    }
    return detail::contiguous_data(rows.reshape(p.permuted_shape).permute(inverse));
}

/// Runs row_fn(in_row, out_row, inner) over every row of a plan, in parallel across rows.
template <class RowFn>
Tensor map_rows(const ReducePlan& p, RowFn row_fn) {
    Tensor out = detail::empty_tensor({p.outer, p.inner}, p.rows.dtype());
    visit_dtype(p.rows.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = p.rows.impl().data<T>();
        T* o = out.impl().data<T>();
        kernels::row_chunks(p.outer, p.inner, [&](std::int64_t begin, std::int64_t end) {
            for (std::int64_t r = begin; r < end; ++r) row_fn(in + r * p.inner, o + r * p.inner, p.inner);
        });
    });
    return out;
}

/// The product of the other elements of each row (prefix times suffix products: exact with zeros).
Tensor products_of_others(const ReducePlan& p) {
    return map_rows(p, [](const auto* in, auto* out, std::int64_t n) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(in)>>;
        Acc<T> prefix = 1;
        for (std::int64_t i = 0; i < n; ++i) {
            out[i] = static_cast<T>(prefix);
            prefix *= in[i];
        }
        Acc<T> suffix = 1;
        for (std::int64_t i = n; i-- > 0;) {
            out[i] = static_cast<T>(out[i] * suffix);
            suffix *= in[i];
        }
    });
}

/// products_of_others with differentiable ops (create_graph): each element's row seen n times
/// with that element replaced by 1, multiplied out. O(n^2) memory per row, only for double backward.
Tensor products_of_others_graph(const Tensor& x, const Shape& dims) {
    const Tensor rows = dims.empty() ? x.reshape({-1}) : x.transpose(dims[0], -1);  // [..., n]
    const std::int64_t n = rows.size(-1);
    const Tensor index = arange(static_cast<double>(n));
    const Tensor diagonal = index.unsqueeze(1) == index.unsqueeze(0);  // [n, n]
    Shape square = rows.shape();
    square.insert(square.end() - 1, n);
    const Tensor spread = rows.unsqueeze(-2).expand(square);  // [..., i, j] = rows[..., j]
    const Tensor others = where(diagonal, ones({}, x.dtype()), spread).prod(-1);
    return dims.empty() ? others.reshape(x.shape()) : others.transpose(dims[0], -1);
}

Tensor prod_impl(const Tensor& t_in, const Shape& dims, bool keepdim) {
    if (autocast::Float32Region fp32; fp32.active()) return prod_impl(fp32(t_in), dims, keepdim);
    if (is_float16(detail::checked(t_in, "prod").dtype))
        return detail::through_float32(t_in, [&](const Tensor& x) { return prod_impl(x, dims, keepdim); });
    const Tensor t = bool_as_int64(t_in, "prod");
    const ReducePlan p = plan(t, dims, keepdim, "prod");
    Tensor out = reduce_rows(p, t.dtype(), [](const auto* row, std::int64_t n) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(row)>>;
        Acc<T> acc = 1;
        for (std::int64_t i = 0; i < n; ++i) acc = multiply_wrapping<Acc<T>>(acc, row[i]);
        return acc;
    });
    if (needs_grad({&t})) {
        record(
            out, dims.empty() ? "ProdBackward0" : "ProdBackward1", {t},
            [dims, kept = p.kept_shape, shape = t.shape(), saved = SavedTensor(t)](const Tensor& g) {
                const ReducePlan again = plan(saved.unpack(), dims, true, "prod_backward");
                const Tensor others = rows_to_input(products_of_others(again), again);
                return std::vector<Tensor>{others * expand_grad(g, kept, shape)};
            },
            true,
            [dims, kept = p.kept_shape, shape = t.shape()](const Tensor& g, const BackwardInputs& in) {
                return std::vector<Tensor>{products_of_others_graph(in[0], dims) * expand_grad(g, kept, shape)};
            });
    }
    return out;
}

/// Running sums along the last axis of each row; `reverse` sums from the end (cumsum's backward).
Tensor running_sums(const ReducePlan& p, bool reverse) {
    return map_rows(p, [reverse](const auto* in, auto* out, std::int64_t n) {
        using T = std::remove_cv_t<std::remove_pointer_t<decltype(in)>>;
        Acc<T> acc = 0;
        for (std::int64_t k = 0; k < n; ++k) {
            const std::int64_t i = reverse ? n - 1 - k : k;
            acc = add_wrapping<Acc<T>>(acc, in[i]);
            out[i] = static_cast<T>(acc);
        }
    });
}

/// Running sums along dim d of a contiguous tensor seen as [outer, len, inner], without the
/// transpose running_sums needs: each block of up to 256 neighbouring columns is scanned side by
/// side (a vectorisable inner loop), blocks split across threads. `reverse` sums from the end.
/// Shapes: x [*] (contiguous) -> the same.
Tensor running_sums_along(const Tensor& x, std::size_t d, bool reverse) {
    const Shape& shape = x.shape();
    std::int64_t outer = 1, inner = 1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (i < d) outer *= shape[i];
        if (i > d) inner *= shape[i];
    }
    const std::int64_t len = shape[d];
    constexpr std::int64_t kBlock = 256;
    const std::int64_t blocks = (inner + kBlock - 1) / kBlock;
    Tensor out = detail::empty_tensor(shape, x.dtype());
    visit_dtype(x.dtype(), [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = x.impl().data<T>();
        T* o = out.impl().data<T>();
        kernels::row_chunks(outer * blocks, len * kBlock, [&](std::int64_t begin, std::int64_t end) {
            std::array<Acc<T>, kBlock> acc{};
            for (std::int64_t task = begin; task < end; ++task) {
                const std::int64_t first = (task % blocks) * kBlock, slab = task / blocks;
                const std::int64_t width = std::min(kBlock, inner - first);
                std::fill_n(acc.begin(), width, Acc<T>(0));
                for (std::int64_t k = 0; k < len; ++k) {
                    const std::int64_t at = (slab * len + (reverse ? len - 1 - k : k)) * inner + first;
                    for (std::int64_t c = 0; c < width; ++c) {
                        acc[static_cast<std::size_t>(c)] =
                            add_wrapping<Acc<T>>(acc[static_cast<std::size_t>(c)], in[at + c]);
                        o[at + c] = static_cast<T>(acc[static_cast<std::size_t>(c)]);
                    }
                }
            }
        });
    });
    return out;
}

/// cumsum (or its reverse, the backward) of t along dim: a column scan when dim is not the last,
/// else running sums over rows.
Tensor cumulative_sums(const Tensor& t, std::int64_t dim, bool reverse, const char* name) {
    const auto rank = t.dim();
    if (rank > 1) {
        const auto d = static_cast<std::size_t>(normalize_dim(dim, rank));
        if (d + 1 < static_cast<std::size_t>(rank)) return running_sums_along(detail::contiguous_data(t), d, reverse);
    }
    const ReducePlan p = plan(t, {dim}, true, name);
    return rows_to_input(running_sums(p, reverse), p);
}

Tensor arg_extremum(const Tensor& t, std::int64_t dim, bool keepdim, bool is_max) {
    NoGradGuard no_grad;
    return extremum_dim(t, dim, keepdim, is_max).indices;
}

Tensor arg_extremum_all(const Tensor& t, bool is_max) {
    NoGradGuard no_grad;
    return extremum_dim(t.reshape({-1}), 0, false, is_max).indices;
}

}  // namespace

Tensor Tensor::sum() const { return sum_impl(*this, {}, false); }
Tensor Tensor::sum(const Shape& dims, bool keepdim) const { return sum_impl(*this, dims, keepdim); }
Tensor Tensor::mean() const { return mean_impl(*this, {}, false); }
Tensor Tensor::mean(const Shape& dims, bool keepdim) const { return mean_impl(*this, dims, keepdim); }
Tensor Tensor::var() const { return var_impl(*this, {}, 1.0, false, "var"); }
Tensor Tensor::var(const Shape& dims, double correction, bool keepdim) const {
    return var_impl(*this, dims, correction, keepdim, "var");
}
Tensor Tensor::std() const { return std_impl(*this, {}, 1.0, false); }
Tensor Tensor::std(const Shape& dims, double correction, bool keepdim) const {
    return std_impl(*this, dims, correction, keepdim);
}
Tensor Tensor::max() const { return extremum_all(*this, true); }
Tensor Tensor::min() const { return extremum_all(*this, false); }
ValuesIndices Tensor::max(std::int64_t dim, bool keepdim) const { return extremum_dim(*this, dim, keepdim, true); }
ValuesIndices Tensor::min(std::int64_t dim, bool keepdim) const { return extremum_dim(*this, dim, keepdim, false); }
Tensor Tensor::argmax() const { return arg_extremum_all(*this, true); }
Tensor Tensor::argmin() const { return arg_extremum_all(*this, false); }
Tensor Tensor::argmax(std::int64_t dim, bool keepdim) const { return arg_extremum(*this, dim, keepdim, true); }
Tensor Tensor::argmin(std::int64_t dim, bool keepdim) const { return arg_extremum(*this, dim, keepdim, false); }

Tensor Tensor::prod() const { return prod_impl(*this, {}, false); }
Tensor Tensor::prod(std::int64_t dim, bool keepdim) const { return prod_impl(*this, {dim}, keepdim); }

Tensor Tensor::cumsum(std::int64_t dim) const {
    if (is_float16(detail::checked(*this, "cumsum").dtype))
        return detail::through_float32(*this, [&](const Tensor& x) { return x.cumsum(dim); });
    if (detail::checked(*this, "cumsum").dtype == kBool) return bool_as_int64(*this, "cumsum").cumsum(dim);
    Tensor out = cumulative_sums(*this, dim, false, "cumsum");
    if (needs_grad({this})) {
        record(
            out, "CumsumBackward0", {*this},
            [dim, dtype = dtype()](const Tensor& g) {
                return std::vector<Tensor>{cumulative_sums(g, dim, true, "cumsum_backward").to(dtype)};
            },
            false,
            [dim, dtype = dtype()](const Tensor& g, const BackwardInputs&) {
                return std::vector<Tensor>{g.flip({dim}).cumsum(dim).flip({dim}).to(dtype)};
            });
    }
    return out;
}

Tensor Tensor::logsumexp(const Shape& dims, bool keepdim) const {
    if (is_float16(detail::checked(*this, "logsumexp").dtype))
        return detail::through_float32(*this, [&](const Tensor& x) { return x.logsumexp(dims, keepdim); });
    if (!is_floating_point()) throw_needs_floating("logsumexp", dtype());
    Tensor shift;
    {
        NoGradGuard no_grad;
        const ReducePlan p = plan(*this, dims, true, "logsumexp");
        shift = reduce_rows(p, dtype(), [](const auto* row, std::int64_t n) {
            double m = -std::numeric_limits<double>::infinity();
            for (std::int64_t i = 0; i < n; ++i) m = std::max<double>(m, row[i]);
            return std::isinf(m) ? 0.0 : m;  // an all -inf row stays -inf below
        });
    }
    // The shift is a constant for autograd: d/dx [m + log sum exp(x - m)] is softmax regardless of m.
    Tensor out = (*this - shift).exp().sum(dims, true).log() + shift;
    if (!keepdim && dim() > 0) {
        Shape dims_all = dims;
        if (dims_all.empty()) {
            for (std::int64_t d = 0; d < dim(); ++d) dims_all.push_back(d);
        }
        Shape squeezed;
        const Shape& s = out.shape();
        std::vector<bool> drop(s.size(), false);
        for (auto d : dims_all)
            drop[static_cast<std::size_t>(normalize_dim(d, static_cast<std::int64_t>(s.size())))] = true;
        for (std::size_t i = 0; i < s.size(); ++i) {
            if (!drop[i]) squeezed.push_back(s[i]);
        }
        out = out.reshape(squeezed);
    }
    return out;
}

}  // namespace lazynn
