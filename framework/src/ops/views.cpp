// View ops: results share storage with their input and differ only in shape/strides/offset.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <algorithm>
#include <mutex>
#include <optional>

namespace lazynn {

using autograd::detail::kDifferentiable;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::sum_to;

namespace {

/// A view of `base` that remembers its root base and the storage version, so autograd can rebuild
/// its history after in-place writes (docs/tensors-and-autograd.md, "Views and in-place ops").
Tensor make_view(const Tensor& base, Shape shape, Shape strides, std::int64_t offset) {
    const TensorImpl& b = base.impl();
    auto impl = TensorImpl::alias(b, std::move(shape), std::move(strides), offset);
    auto meta = std::make_shared<ViewMeta>();
    meta->base = b.view_meta ? b.view_meta->base : base.impl_ptr();
    meta->version = b.storage->version();
    impl->view_meta = std::move(meta);
    return Tensor(std::move(impl));
}

/// Strides that let `shape` view data laid out as `old_shape`/`old_strides`, or nothing when a new
/// dim would span two blocks that are not contiguous with each other. Walks the old dims from the
/// last, grouping runs that are contiguous among themselves, and requires every group to be cut
/// into whole new dims (PyTorch's rule for view).
std::optional<Shape> view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape) {
    if (old_shape.empty()) return Shape(shape.size(), 1);
    if (shape_numel(old_shape) == 0) return old_shape == shape ? old_strides : contiguous_strides(shape);
    Shape strides(shape.size(), 0);
    auto view_d = static_cast<std::int64_t>(shape.size()) - 1;
    std::int64_t chunk_stride = old_strides.back();
    std::int64_t chunk_numel = 1, view_numel = 1;
    for (auto d = static_cast<std::int64_t>(old_shape.size()) - 1; d >= 0; --d) {
        const auto ud = static_cast<std::size_t>(d);
        chunk_numel *= old_shape[ud];
        const bool chunk_ends = d == 0 || (old_shape[ud - 1] != 1 && old_strides[ud - 1] != chunk_numel * chunk_stride);
        if (!chunk_ends) continue;
        while (view_d >= 0 && (view_numel < chunk_numel || shape[static_cast<std::size_t>(view_d)] == 1)) {
            strides[static_cast<std::size_t>(view_d)] = view_numel * chunk_stride;
            view_numel *= shape[static_cast<std::size_t>(view_d)];
            --view_d;
        }
        if (view_numel != chunk_numel) return std::nullopt;
        if (d > 0) {
            chunk_stride = old_strides[ud - 1];
            chunk_numel = 1;
            view_numel = 1;
        }
    }
    if (view_d != -1) return std::nullopt;
    return strides;
}

/// Resolves one -1 entry and checks the element count.
Shape infer_shape(const Shape& requested, std::int64_t numel) {
    Shape shape = requested;
    std::int64_t known = 1;
    std::ptrdiff_t infer = -1;
    for (std::size_t i = 0; i < shape.size(); ++i) {
        if (shape[i] == -1) {
            if (infer >= 0) throw ValueError("only one dimension can be inferred");
            infer = static_cast<std::ptrdiff_t>(i);
        } else if (shape[i] < 0) {
            throw ValueError("invalid shape dimension " + std::to_string(shape[i]));
        } else {
            known *= shape[i];
        }
    }
    if (infer >= 0 && known != 0 && numel % known == 0) shape[static_cast<std::size_t>(infer)] = numel / known;
    if (shape_numel(shape) != numel || (infer >= 0 && known == 0)) {
        throw ShapeError("shape '" + shape_to_list(requested) + "' is invalid for input of size " +
                         std::to_string(numel));
    }
    return shape;
}

void record_reshape(Tensor& out, const Tensor& in, const char* name) {
    if (!needs_grad({&in})) return;
    record(
        out, name, {in}, [shape = in.shape()](const Tensor& g) { return std::vector<Tensor>{g.reshape(shape)}; }, false,
        kDifferentiable);
}

}  // namespace

Tensor Tensor::view(const Shape& shape) const {
    const TensorImpl& i = detail::checked(*this, "view");
    const Shape target = infer_shape(shape, i.numel());
    const std::optional<Shape> strides = view_strides(i.shape, i.strides, target);
    if (!strides) {
        throw RuntimeError(
            "view size is not compatible with input tensor's size and stride (at least one dimension "
            "spans across two contiguous subspaces). Use .reshape(...) instead.");
    }
    Tensor out = make_view(*this, target, *strides, i.offset);
    record_reshape(out, *this, "ViewBackward0");
    return out;
}

Tensor Tensor::reshape(const Shape& shape) const {
    const TensorImpl& i = detail::checked(*this, "reshape");
    const Shape target = infer_shape(shape, i.numel());
    Tensor out;
    if (i.is_contiguous()) {
        out = make_view(*this, target, contiguous_strides(target), i.offset);
    } else {
        // A copy, not a view: in-place writes to it must not reach (or rebase) the input.
        out = detail::contiguous_data(*this);
        out.impl().shape = target;
        out.impl().strides = contiguous_strides(target);
    }
    record_reshape(out, *this, i.is_contiguous() ? "ViewBackward0" : "ReshapeAliasBackward0");
    return out;
}

Tensor Tensor::flatten(std::int64_t start_dim, std::int64_t end_dim) const {
    const Shape& s = detail::checked(*this, "flatten").shape;
    if (s.empty()) return reshape({1});
    const auto rank = static_cast<std::int64_t>(s.size());
    const std::int64_t start = normalize_dim(start_dim, rank);
    const std::int64_t end = normalize_dim(end_dim, rank);
    if (start > end) throw ValueError("flatten() has invalid args: start_dim cannot come after end_dim");
    Shape target(s.begin(), s.begin() + start);
    std::int64_t merged = 1;
    for (std::int64_t d = start; d <= end; ++d) merged *= s[static_cast<std::size_t>(d)];
    target.push_back(merged);
    target.insert(target.end(), s.begin() + end + 1, s.end());
    return reshape(target);
}

Tensor Tensor::squeeze() const {
    const TensorImpl& i = detail::checked(*this, "squeeze");
    Shape shape, strides;
    for (std::size_t d = 0; d < i.shape.size(); ++d) {
        if (i.shape[d] != 1) {
            shape.push_back(i.shape[d]);
            strides.push_back(i.strides[d]);
        }
    }
    Tensor out = make_view(*this, shape, strides, i.offset);
    record_reshape(out, *this, "SqueezeBackward0");
    return out;
}

Tensor Tensor::squeeze(std::int64_t dim) const {
    const TensorImpl& i = detail::checked(*this, "squeeze");
    if (i.shape.empty()) return *this;
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size())));
    if (i.shape[d] != 1) return *this;
    Shape shape = i.shape, strides = i.strides;
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
    strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(d));
    Tensor out = make_view(*this, shape, strides, i.offset);
    record_reshape(out, *this, "SqueezeBackward1");
    return out;
}

Tensor Tensor::unsqueeze(std::int64_t dim) const {
    const TensorImpl& i = detail::checked(*this, "unsqueeze");
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size()) + 1));
    Shape shape = i.shape, strides = i.strides;
    const std::int64_t stride = d < i.shape.size() ? i.strides[d] * i.shape[d] : 1;
    shape.insert(shape.begin() + static_cast<std::ptrdiff_t>(d), 1);
    strides.insert(strides.begin() + static_cast<std::ptrdiff_t>(d), stride);
    Tensor out = make_view(*this, shape, strides, i.offset);
    record_reshape(out, *this, "UnsqueezeBackward0");
    return out;
}

Tensor Tensor::permute(const Shape& dims) const {
    const TensorImpl& i = detail::checked(*this, "permute");
    const auto rank = static_cast<std::int64_t>(i.shape.size());
    if (static_cast<std::int64_t>(dims.size()) != rank) {
        throw ValueError(
            "permute(): number of dimensions in the tensor input does not match the length of "
            "the desired ordering of dimensions i.e. input.dim() = " +
            std::to_string(rank) + " is not equal to len(dims) = " + std::to_string(dims.size()));
    }
    Shape shape(dims.size()), strides(dims.size()), inverse(dims.size());
    std::vector<bool> used(dims.size(), false);
    for (std::size_t k = 0; k < dims.size(); ++k) {
        const auto d = static_cast<std::size_t>(normalize_dim(dims[k], rank));
        if (used[d]) throw ValueError("permute(): duplicate dims are not allowed.");
        used[d] = true;
        shape[k] = i.shape[d];
        strides[k] = i.strides[d];
        inverse[d] = static_cast<std::int64_t>(k);
    }
    Tensor out = make_view(*this, shape, strides, i.offset);
    if (needs_grad({this})) {
        record(
            out, "PermuteBackward0", {*this},
            [inverse](const Tensor& g) { return std::vector<Tensor>{g.permute(inverse)}; }, false, kDifferentiable);
    }
    return out;
}

Tensor Tensor::transpose(std::int64_t dim0, std::int64_t dim1) const {
    const auto rank = static_cast<std::int64_t>(detail::checked(*this, "transpose").shape.size());
    if (rank == 0) return *this;
    Shape dims(static_cast<std::size_t>(rank));
    for (std::int64_t d = 0; d < rank; ++d) dims[static_cast<std::size_t>(d)] = d;
    std::swap(dims[static_cast<std::size_t>(normalize_dim(dim0, rank))],
              dims[static_cast<std::size_t>(normalize_dim(dim1, rank))]);
    return permute(dims);
}

Tensor Tensor::t() const {
    const auto rank = detail::checked(*this, "t").shape.size();
    if (rank > 2)
        throw ShapeError("t() expects a tensor with <= 2 dimensions, but self is " + std::to_string(rank) + "D");
    return rank < 2 ? *this : transpose(0, 1);
}

Tensor Tensor::slice(std::int64_t dim, std::int64_t start, std::int64_t end, std::int64_t step) const {
    const TensorImpl& i = detail::checked(*this, "slice");
    if (step <= 0) throw ValueError("slice step must be positive, got " + std::to_string(step));
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size())));
    const std::int64_t size = i.shape[d];
    auto clamp_index = [size](std::int64_t v) { return std::clamp<std::int64_t>(v < 0 ? v + size : v, 0, size); };
    const std::int64_t s = clamp_index(start);
    const std::int64_t e = std::max(s, clamp_index(end));
    Shape shape = i.shape, strides = i.strides;
    shape[d] = (e - s + step - 1) / step;
    strides[d] = i.strides[d] * step;
    Tensor out = make_view(*this, shape, strides, i.offset + s * i.strides[d]);
    if (needs_grad({this})) {
        record(
            out, "SliceBackward0", {*this},
            [in_shape = i.shape, dtype = i.dtype, d, s, e, step](const Tensor& g) {
                Tensor grad = zeros(in_shape, dtype);
                grad.slice(static_cast<std::int64_t>(d), s, e, step).copy_(g);
                return std::vector<Tensor>{grad};
            },
            false, kDifferentiable);  // copy_ into the view records CopySlices when g has history
    }
    return out;
}

Tensor Tensor::narrow(std::int64_t dim, std::int64_t start, std::int64_t length) const {
    const TensorImpl& i = detail::checked(*this, "narrow");
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size())));
    const std::int64_t s = start < 0 ? start + i.shape[d] : start;
    if (s < 0 || length < 0 || s + length > i.shape[d]) {
        throw IndexError("narrow(): start (" + std::to_string(start) + ") + length (" + std::to_string(length) +
                         ") exceeds dimension size (" + std::to_string(i.shape[d]) + ").");
    }
    return slice(dim, s, s + length);
}

Tensor Tensor::select(std::int64_t dim, std::int64_t index) const {
    const TensorImpl& i = detail::checked(*this, "select");
    if (i.shape.empty()) throw IndexError("select() cannot be applied to a 0-dim tensor.");
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size())));
    const std::int64_t size = i.shape[d];
    if (index < -size || index >= size) {
        throw IndexError("select(): index " + std::to_string(index) + " out of range for tensor of size " +
                         shape_to_list(i.shape) + " at dimension " + std::to_string(d));
    }
    const std::int64_t idx = index < 0 ? index + size : index;
    Shape shape = i.shape, strides = i.strides;
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
    strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(d));
    Tensor out = make_view(*this, shape, strides, i.offset + idx * i.strides[d]);
    if (needs_grad({this})) {
        record(
            out, "SelectBackward0", {*this},
            [in_shape = i.shape, dtype = i.dtype, d, idx](const Tensor& g) {
                Tensor grad = zeros(in_shape, dtype);
                grad.select(static_cast<std::int64_t>(d), idx).copy_(g);
                return std::vector<Tensor>{grad};
            },
            false, kDifferentiable);
    }
    return out;
}

namespace {

/// The gradient unbind's pieces fill together in one backward pass: the first piece to receive a
/// gradient allocates it (zeros) and hands it on; the others write their slice into it. The input's
/// node runs only after every piece's node, so it sees the whole gradient, once. Per-piece
/// gradients the size of the input (select's) would cost T allocations and T full-size additions
/// for a sequence of T steps: quadratic in T.
struct UnbindGradient {
    std::mutex mutex;
    std::uint64_t pass = 0;
    std::weak_ptr<TensorImpl> buffer;  // alive while the engine still holds it for the input's node
};

}  // namespace

std::vector<Tensor> Tensor::unbind(std::int64_t dim) const {
    // Shapes: [.., n, ..] -> n views without that dim.
    const TensorImpl& ti = detail::checked(*this, "unbind");
    if (ti.shape.empty()) throw IndexError("unbind: Dimension specified as 0 but tensor has no dimensions");
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(ti.shape.size())));
    Shape shape = ti.shape, strides = ti.strides;
    shape.erase(shape.begin() + static_cast<std::ptrdiff_t>(d));
    strides.erase(strides.begin() + static_cast<std::ptrdiff_t>(d));
    const bool grad = needs_grad({this});
    const auto shared = grad ? std::make_shared<UnbindGradient>() : nullptr;
    std::vector<Tensor> pieces;
    for (std::int64_t i = 0; i < ti.shape[d]; ++i) {
        Tensor piece = make_view(*this, shape, strides, ti.offset + i * ti.strides[d]);
        if (grad) {
            record(
                piece, "UnbindBackward0", {*this},
                [shared, in_shape = ti.shape, dtype = ti.dtype, d, i](const Tensor& g) {
                    const auto dim_index = static_cast<std::int64_t>(d);
                    if (is_grad_enabled()) {
                        // create_graph: each piece's gradient on its own, with its history.
                        Tensor alone = zeros(in_shape, dtype);
                        alone.select(dim_index, i).copy_(g);
                        return std::vector<Tensor>{alone};
                    }
                    std::lock_guard<std::mutex> lock(shared->mutex);
                    const std::uint64_t pass = autograd::detail::current_backward_pass();
                    if (Tensor filling(shared->buffer.lock()); filling.defined() && shared->pass == pass) {
                        filling.select(dim_index, i).copy_(g);
                        return std::vector<Tensor>{Tensor()};
                    }
                    Tensor whole = zeros(in_shape, dtype);
                    whole.select(dim_index, i).copy_(g);
                    shared->pass = pass;
                    shared->buffer = whole.impl_ptr();
                    return std::vector<Tensor>{whole};
                },
                false, kDifferentiable);
        }
        pieces.push_back(std::move(piece));
    }
    return pieces;
}

Tensor Tensor::expand(const Shape& shape) const {
    const TensorImpl& i = detail::checked(*this, "expand");
    if (shape.size() < i.shape.size()) {
        throw ShapeError("expand: the number of sizes provided (" + std::to_string(shape.size()) +
                         ") must be greater or equal to the number of dimensions in the tensor (" +
                         std::to_string(i.shape.size()) + ")");
    }
    const std::size_t lead = shape.size() - i.shape.size();
    Shape out_shape(shape.size()), strides(shape.size(), 0);
    for (std::size_t k = 0; k < shape.size(); ++k) {
        if (k < lead) {
            if (shape[k] < 0) throw ShapeError("expand: -1 is not allowed in a leading, non-existing dimension");
            out_shape[k] = shape[k];
            continue;
        }
        const std::int64_t have = i.shape[k - lead];
        const std::int64_t want = shape[k] == -1 ? have : shape[k];
        if (have != want && have != 1) {
            throw ShapeError("The expanded size of the tensor (" + std::to_string(want) +
                             ") must match the existing size (" + std::to_string(have) +
                             ") at non-singleton dimension " + std::to_string(k) +
                             ".  Target sizes: " + shape_to_list(shape) + ".  Tensor sizes: " + shape_to_list(i.shape));
        }
        out_shape[k] = want;
        strides[k] = have == want ? i.strides[k - lead] : 0;
    }
    Tensor out = make_view(*this, out_shape, strides, i.offset);
    if (needs_grad({this})) {
        record(
            out, "ExpandBackward0", {*this},
            [in_shape = i.shape](const Tensor& g) { return std::vector<Tensor>{sum_to(g, in_shape)}; }, false,
            kDifferentiable);
    }
    return out;
}

Tensor Tensor::expand_as(const Tensor& other) const { return expand(other.shape()); }

}  // namespace lazynn
