// Indexing by index tensors and masks: gather, scatter, scatter_add, masked_select, nonzero, one_hot.
// gather and scatter walk the index tensor row by row and address self through its strides, so no
// operand needs to be contiguous; gather's rows run in parallel. Backward formulas are these same ops, so they
// stay differentiable.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

namespace lazynn {

using autograd::detail::kDifferentiable;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

namespace {

/// Checks shared by gather and scatter: int64 index of self's rank, no larger than `bound` on the
/// other dims (self for gather, self and src for scatter). Returns the normalised dim.
std::size_t check_index(const TensorImpl& self, const TensorImpl& index, std::int64_t dim, const char* op,
                        const TensorImpl* src = nullptr) {
    if (index.dtype != kInt64) {
        throw DtypeError(std::string(op) + "(): Expected dtype int64 for index, got " + dtype_name(index.dtype));
    }
    const auto rank = static_cast<std::int64_t>(self.shape.size());
    const auto d = static_cast<std::size_t>(normalize_dim(dim, rank));
    const auto index_rank = std::max<std::size_t>(index.shape.size(), 1);
    if (index_rank != std::max<std::size_t>(self.shape.size(), 1) && index.numel() != 0) {
        throw ShapeError(std::string(op) + "(): Index tensor must have the same number of dimensions as " +
                         (src ? "self tensor" : "input tensor") + " (index " + shape_to_list(index.shape) + ", self " +
                         shape_to_list(self.shape) + ")");
    }
    for (std::size_t k = 0; k < index.shape.size() && k < self.shape.size(); ++k) {
        if (src && k < src->shape.size() && index.shape[k] > src->shape[k]) {
            throw ShapeError(std::string(op) + "(): Expected index " + shape_to_list(index.shape) +
                             " to be smaller than self " + shape_to_list(self.shape) + " apart from dimension " +
                             std::to_string(d) + " and to be smaller size than src " + shape_to_list(src->shape));
        }
        if (k != d && index.shape[k] > self.shape[k]) {
            throw ShapeError(std::string(op) + "(): Size does not match at dimension " + std::to_string(k) +
                             " expected index " + shape_to_list(index.shape) + " to be smaller than self " +
                             shape_to_list(self.shape) + " apart from dimension " + std::to_string(d));
        }
    }
    return d;
}

/// Calls fn(position in index, offset in a, offset in b) for every element of the index tensor
/// (rank >= 1), where a and b are addressed by the same coordinates (b's dim `d` included, a's
/// replaced by the index value). Index values are checked against a's size along d. The index's
/// last dim is a tight inner loop; rows (the other dims) are split across threads when `parallel`
/// (fn must then write disjoint places: gather, not scatter, whose duplicate indices collide).
template <class Fn>
void walk_index(const TensorImpl& index, const Shape& a_strides, const Shape& b_strides, std::size_t d,
                std::int64_t a_size, const char* op, bool parallel, Fn fn) {
    const std::int64_t n = index.numel();
    if (n == 0) return;
    const std::int64_t* ix = index.data<std::int64_t>();
    const std::size_t last = index.shape.size() - 1;
    const std::int64_t width = index.shape[last], rows = n / width;
    const std::int64_t ix_step = index.strides[last], b_step = b_strides[last];
    const std::int64_t a_step = last == d ? 0 : a_strides[last], a_along = a_strides[d];
    auto run_rows = [&](std::int64_t first, std::int64_t end) {
        // The offsets of row `first`, then carried from row to row over the dims before the last.
        Shape coord(last, 0);
        std::int64_t ix_off = 0, a_off = 0, b_off = 0;
        for (std::int64_t r = first, k = static_cast<std::int64_t>(last); k-- > 0;) {
            const auto u = static_cast<std::size_t>(k);
            coord[u] = r % index.shape[u];
            r /= index.shape[u];
            ix_off += coord[u] * index.strides[u];
            if (u != d) a_off += coord[u] * a_strides[u];
            b_off += coord[u] * b_strides[u];
        }
        // Locals, not captures: the inner loop then keeps them in registers across fn's stores.
        const std::int64_t* const values = ix;
        const std::int64_t w = width, v_step = ix_step, a_inner = a_step, along = a_along, b_inner = b_step,
                           bound = a_size;
        auto body = fn;
        for (std::int64_t row = first; row < end; ++row) {
            for (std::int64_t j = 0; j < w; ++j) {
                std::int64_t v = values[ix_off + j * v_step];
                // One unsigned compare for -bound <= v < bound (the sum wraps, defined, for any v).
                if (static_cast<std::uint64_t>(v) + static_cast<std::uint64_t>(bound) >=
                    2 * static_cast<std::uint64_t>(bound)) {
                    throw IndexError(std::string(op) + "(): index " + std::to_string(v) +
                                     " is out of bounds for dimension " + std::to_string(d) + " with size " +
                                     std::to_string(bound));
                }
                if (v < 0) v += bound;
                body(row * w + j, a_off + j * a_inner + v * along, b_off + j * b_inner);
            }
            for (std::size_t k = last; k-- > 0;) {
                ++coord[k];
                ix_off += index.strides[k];
                if (k != d) a_off += a_strides[k];
                b_off += b_strides[k];
                if (coord[k] < index.shape[k]) break;
                ix_off -= index.strides[k] * index.shape[k];
                if (k != d) a_off -= a_strides[k] * index.shape[k];
                b_off -= b_strides[k] * index.shape[k];
                coord[k] = 0;
            }
        }
    };
    if (parallel) {
        detail::parallel_for(rows, std::max<std::int64_t>(1, kernels::kElementwiseGrain / width), run_rows);
    } else {
        run_rows(0, rows);
    }
}

Shape strides_or_unit(const TensorImpl& t) { return t.shape.empty() ? Shape{1} : t.strides; }

/// index seen with rank >= 1 (a 0-dim index is one element).
Tensor index_view(const Tensor& index) { return index.dim() == 0 ? index.reshape({1}) : index; }

/// A copy of `self` with src written (or added) at the indexed places; no autograd.
Tensor scatter_values(const Tensor& self, std::int64_t dim, const Tensor& index_in, const Tensor& src_in, bool add,
                      const char* op) {
    const TensorImpl& si = detail::checked(self, op);
    if (is_float16(si.dtype)) {
        // Written (or summed) in float32 and rounded once back.
        const Tensor wide = scatter_values(kernels::converted(self, kFloat32), dim, index_in,
                                           kernels::converted(src_in, kFloat32), add, op);
        return kernels::converted(wide, si.dtype);
    }
    const Tensor index = index_view(index_in);
    const Tensor src = kernels::converted(src_in, si.dtype);
    const std::size_t d = check_index(si, detail::checked(index, op), dim, op, &src.impl());
    Tensor out = detail::contiguous_data(self).clone();
    const TensorImpl& srci = src.impl();
    const Shape out_strides = strides_or_unit(out.impl());
    // A 0-dim src (the scalar form) is read at offset 0 for every element.
    const Shape src_strides = srci.shape.empty() ? Shape(index.impl().shape.size(), 0) : srci.strides;
    const std::int64_t size = si.shape.empty() ? 1 : si.shape[d];
    visit_dtype(si.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* o = out.impl().data<T>();
        const T* s = srci.data<T>();
        walk_index(index.impl(), out_strides, src_strides, d, size, op, /*parallel=*/false,
                   [&](std::int64_t, std::int64_t at, std::int64_t from) {
                       if constexpr (std::is_same_v<T, bool>)
                           o[at] = add ? (o[at] || s[from]) : s[from];
                       else
                           o[at] = add ? static_cast<T>(o[at] + s[from]) : s[from];
                   });
    });
    return out;
}

}  // namespace

Tensor Tensor::gather(std::int64_t dim, const Tensor& index_in) const {
    // Shapes: self [*], index [*] (same rank, no larger apart from dim) -> out has index's shape.
    const TensorImpl& si = detail::checked(*this, "gather");
    const Tensor index = index_view(index_in);
    const std::size_t d = check_index(si, detail::checked(index, "gather"), dim, "gather");
    Tensor out = detail::empty_tensor(index_in.shape(), si.dtype);
    const Shape out_strides = contiguous_strides(index.shape());
    const std::int64_t size = si.shape.empty() ? 1 : si.shape[d];
    visit_storage_dtype(si.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* s = si.data<T>();
        T* o = out.impl().data<T>();
        walk_index(index.impl(), strides_or_unit(si), out_strides, d, size, "gather", /*parallel=*/true,
                   [o, s](std::int64_t, std::int64_t from, std::int64_t at) { o[at] = s[from]; });
    });
    if (needs_grad({this})) {
        record(
            out, "GatherBackward0", {*this},
            [dim, shape = si.shape, dtype = si.dtype, saved = SavedTensor(index_in)](const Tensor& g) {
                return std::vector<Tensor>{zeros(shape, dtype).scatter_add(dim, saved.unpack(), g)};
            },
            true, kDifferentiable);
    }
    return out;
}

Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, const Tensor& src) const {
    // Shapes: self [*], index [*] (no larger than src, nor than self apart from dim), src [*] -> self's shape.
    Tensor out = scatter_values(*this, dim, index, src, false, "scatter");
    if (needs_grad({this, &src})) {
        record(
            out, "ScatterBackward0", {*this, src},
            [dim, self_needed = requires_grad(), src_needed = src.requires_grad(), src_dtype = src.dtype(),
             saved = SavedTensor(index)](const Tensor& g) {
                const Tensor ix = saved.unpack();
                return std::vector<Tensor>{self_needed ? g.scatter(dim, ix, 0.0) : Tensor(),
                                           src_needed ? g.gather(dim, ix).to(src_dtype) : Tensor()};
            },
            true, kDifferentiable);
    }
    return out;
}

Tensor Tensor::scatter(std::int64_t dim, const Tensor& index, double value) const {
    const TensorImpl& si = detail::checked(*this, "scatter");
    Tensor out = scatter_values(*this, dim, index, full({}, value, si.dtype), false, "scatter");
    if (needs_grad({this})) {
        record(
            out, "ScatterBackward1", {*this},
            [dim, saved = SavedTensor(index)](const Tensor& g) {
                return std::vector<Tensor>{g.scatter(dim, saved.unpack(), 0.0)};
            },
            true, kDifferentiable);
    }
    return out;
}

Tensor Tensor::scatter_add(std::int64_t dim, const Tensor& index, const Tensor& src) const {
    const TensorImpl& si = detail::checked(*this, "scatter_add");
    if (detail::checked(src, "scatter_add").dtype != si.dtype) {
        throw DtypeError("scatter_add(): Expected self.dtype to be equal to src.dtype (self " + dtype_name(si.dtype) +
                         ", src " + dtype_name(src.dtype()) + ")");
    }
    Tensor out = scatter_values(*this, dim, index, src, true, "scatter_add");
    if (needs_grad({this, &src})) {
        record(
            out, "ScatterAddBackward0", {*this, src},
            [dim, src_needed = src.requires_grad(), saved = SavedTensor(index)](const Tensor& g) {
                return std::vector<Tensor>{g, src_needed ? g.gather(dim, saved.unpack()) : Tensor()};
            },
            true, kDifferentiable);
    }
    return out;
}

Tensor Tensor::nonzero() const {
    // Shapes: [*] with n nonzero elements -> [n, dim] int64.
    const TensorImpl& si = detail::checked(*this, "nonzero");
    const Tensor c = detail::contiguous_data(kernels::converted(*this, compute_dtype(si.dtype)));
    const auto rank = static_cast<std::int64_t>(si.shape.size());
    std::vector<std::int64_t> coords;
    visit_dtype(si.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* p = c.impl().data<T>();
        Shape coord(si.shape.size(), 0);
        for (std::int64_t i = 0; i < si.numel(); ++i) {
            if (p[i] != T(0)) coords.insert(coords.end(), coord.begin(), coord.end());
            for (std::size_t k = coord.size(); k-- > 0;) {
                if (++coord[k] < si.shape[k]) break;
                coord[k] = 0;
            }
        }
    });
    const std::int64_t count = rank ? static_cast<std::int64_t>(coords.size()) / rank
                                    : (si.numel() == 1 && c.to_vector<double>()[0] != 0.0 ? 1 : 0);
    Tensor out = zeros({count, rank}, kInt64);
    std::copy(coords.begin(), coords.end(), out.impl().data<std::int64_t>());
    return out;
}

Tensor Tensor::masked_select(const Tensor& mask) const {
    // Shapes: self and mask broadcast to S -> [number of true elements in the broadcast mask].
    const TensorImpl& si = detail::checked(*this, "masked_select");
    const TensorImpl& mi = detail::checked(mask, "masked_select");
    if (mi.dtype != kBool) throw DtypeError("masked_select: expected BoolTensor for mask, got " + dtype_name(mi.dtype));
    const Shape shape = broadcast_shapes(si.shape, mi.shape, "masked_select");
    const Tensor m = detail::contiguous_data(mask.expand(shape));
    const bool* mp = m.impl().data<bool>();
    std::vector<std::int64_t> positions;
    for (std::int64_t i = 0; i < m.numel(); ++i) {
        if (mp[i]) positions.push_back(i);
    }
    const Tensor flat_index = tensor(positions, {static_cast<std::int64_t>(positions.size())});
    // Differentiable: a gather from the broadcast, flattened self.
    return expand(shape).reshape({-1}).index_select(0, flat_index);
}

Tensor one_hot(const Tensor& t, std::int64_t num_classes) {
    // Shapes: int64 [*] -> int64 [*, num_classes].
    const TensorImpl& ti = detail::checked(t, "one_hot");
    if (ti.dtype != kInt64)
        throw DtypeError("one_hot is only applicable to index tensor (int64), got " + dtype_name(ti.dtype));
    const std::vector<std::int64_t> v = t.to_vector<std::int64_t>();
    for (auto x : v) {
        if (x < 0) throw RuntimeError("one_hot: Class values must be non-negative, got " + std::to_string(x));
    }
    if (num_classes < 0) {
        if (v.empty()) throw RuntimeError("one_hot: Can not infer total number of classes from empty tensor.");
        num_classes = *std::max_element(v.begin(), v.end()) + 1;
    }
    for (auto x : v) {
        if (x >= num_classes)
            throw RuntimeError("one_hot: Class values must be smaller than num_classes (" +
                               std::to_string(num_classes) + "), got " + std::to_string(x));
    }
    Shape shape = ti.shape;
    shape.push_back(num_classes);
    Tensor out = zeros(shape, kInt64);
    std::int64_t* o = out.impl().data<std::int64_t>();
    for (std::size_t i = 0; i < v.size(); ++i) o[static_cast<std::int64_t>(i) * num_classes + v[i]] = 1;
    return out;
}

Tensor gather(const Tensor& t, std::int64_t dim, const Tensor& index) { return t.gather(dim, index); }
Tensor scatter(const Tensor& t, std::int64_t dim, const Tensor& index, const Tensor& src) {
    return t.scatter(dim, index, src);
}
Tensor scatter(const Tensor& t, std::int64_t dim, const Tensor& index, double value) {
    return t.scatter(dim, index, value);
}
Tensor scatter_add(const Tensor& t, std::int64_t dim, const Tensor& index, const Tensor& src) {
    return t.scatter_add(dim, index, src);
}
Tensor masked_select(const Tensor& t, const Tensor& mask) { return t.masked_select(mask); }
Tensor masked_fill(const Tensor& t, const Tensor& mask, double value) { return t.masked_fill(mask, value); }
Tensor nonzero(const Tensor& t) { return t.nonzero(); }

}  // namespace lazynn
