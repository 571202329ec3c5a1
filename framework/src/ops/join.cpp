// Ops that gather or split along a dim: index_select, cat, stack, split, chunk.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <cstring>

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

Tensor Tensor::index_select(std::int64_t dim, const Tensor& index) const {
    const TensorImpl& i = detail::checked(*this, "index_select");
    const TensorImpl& ix = detail::checked(index, "index_select");
    if (ix.dtype != kInt64)
        throw DtypeError("index_select(): Expected dtype int64 for index, got " + dtype_name(ix.dtype));
    if (ix.shape.size() > 1)
        throw ShapeError("index_select(): Index is supposed to be a vector, got shape " + shape_to_list(ix.shape));
    const auto rank = static_cast<std::int64_t>(i.shape.size());
    const auto d = static_cast<std::size_t>(normalize_dim(dim, rank));
    const std::int64_t size = rank ? i.shape[d] : 1;
    const std::vector<std::int64_t> idx = index.to_vector<std::int64_t>();
    for (auto v : idx) {
        if (v < 0 || v >= size) {  // negative indices do not wrap (PyTorch: "index out of range in self")
            throw IndexError("index_select(): index out of range in self (index " + std::to_string(v) +
                             " is out of bounds for dimension " + std::to_string(d) + " with size " +
                             std::to_string(size) + ")");
        }
    }
    Shape out_shape = i.shape;
    if (rank) out_shape[d] = static_cast<std::int64_t>(idx.size());
    // Gather whole [inner] blocks: the input seen as [outer, size, inner].
    const Tensor src = detail::contiguous_data(*this);
    std::int64_t outer = 1, inner = 1;
    for (std::size_t k = 0; k < d && rank; ++k) outer *= i.shape[k];
    for (std::size_t k = d + 1; k < i.shape.size(); ++k) inner *= i.shape[k];
    Tensor out = detail::empty_tensor(out_shape, i.dtype);
    const std::size_t bytes = static_cast<std::size_t>(inner) * dtype_size(i.dtype);
    const char* from = static_cast<const char*>(src.impl().storage->raw()) +
                       src.impl().offset * static_cast<std::int64_t>(dtype_size(i.dtype));
    char* to = static_cast<char*>(out.impl().storage->raw());
    const auto count = static_cast<std::int64_t>(idx.size());
    for (std::int64_t o = 0; o < outer; ++o) {
        for (std::int64_t k = 0; k < count; ++k) {
            const std::int64_t s = idx[static_cast<std::size_t>(k)];
            std::memcpy(to + static_cast<std::size_t>(o * count + k) * bytes,
                        from + static_cast<std::size_t>(o * size + s) * bytes, bytes);
        }
    }
    if (needs_grad({this})) {
        record(
            out, "IndexSelectBackward0", {*this},
            [in_shape = i.shape, dtype = i.dtype, idx, size, outer, inner, count](const Tensor& g_in) {
                // Summed in float32 for a 16-bit input, rounded once at the end.
                const Dtype sum_dtype = compute_dtype(dtype);
                Tensor grad = zeros(in_shape, sum_dtype);
                const Tensor g = detail::contiguous_data(g_in.to(sum_dtype));
                visit_dtype(sum_dtype, [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    T* dst = grad.impl().data<T>();
                    const T* gv = g.impl().data<T>();
                    for (std::int64_t o = 0; o < outer; ++o) {
                        for (std::int64_t k = 0; k < count; ++k) {
                            const std::int64_t s = idx[static_cast<std::size_t>(k)];
                            T* row = dst + (o * size + s) * inner;
                            const T* grow = gv + (o * count + k) * inner;
                            for (std::int64_t e = 0; e < inner; ++e) row[e] += grow[e];
                        }
                    }
                });
                return std::vector<Tensor>{grad.to(dtype)};
            },
            false,
            [in_shape = i.shape, dtype = i.dtype, idx, size, outer, inner, count](
                const Tensor& g, const autograd::detail::BackwardInputs&) {
                // For create_graph: the same scatter-add as a recorded op (its backward gathers).
                // Each input row receives only the rows that selected it, as PyTorch's index_add:
                // a NaN or inf in one output row stays in its own input row.
                const Dtype sum_dtype = compute_dtype(dtype);
                const Tensor rows = tensor(idx, {1, count, 1}).expand({outer, count, inner});
                const Tensor summed = zeros({outer, size, inner}, sum_dtype)
                                          .scatter_add(1, rows, g.to(sum_dtype).reshape({outer, count, inner}));
                return std::vector<Tensor>{summed.reshape(in_shape).to(dtype)};
            });
    }
    return out;
}

Tensor cat(const std::vector<Tensor>& tensors, std::int64_t dim) {
    if (tensors.empty()) throw ValueError("cat(): expected a non-empty list of Tensors");
    const TensorImpl& first = detail::checked(tensors[0], "cat");
    if (first.shape.empty()) throw ShapeError("cat(): zero-dimensional tensor (at position 0) cannot be concatenated");
    const auto rank = static_cast<std::int64_t>(first.shape.size());
    const auto d = static_cast<std::size_t>(normalize_dim(dim, rank));
    Dtype dtype = first.dtype;
    Shape out_shape = first.shape;
    out_shape[d] = 0;
    for (std::size_t k = 0; k < tensors.size(); ++k) {
        const TensorImpl& t = detail::checked(tensors[k], "cat");
        dtype = promote_types(dtype, t.dtype);
        for (std::size_t a = 0; a < first.shape.size(); ++a) {
            if (t.shape.size() != first.shape.size() || (a != d && t.shape[a] != first.shape[a])) {
                throw ShapeError("cat(): Sizes of tensors must match except in dimension " + std::to_string(d) +
                                 ". Expected " + shape_to_list(first.shape) + " but got " + shape_to_list(t.shape) +
                                 " for tensor number " + std::to_string(k) + " in the list.");
            }
        }
        out_shape[d] += t.shape[d];
    }
    Tensor out = detail::empty_tensor(out_shape, dtype);
    std::vector<std::int64_t> sizes;
    {
        NoGradGuard no_grad;
        std::int64_t offset = 0;
        for (const Tensor& t : tensors) {
            const std::int64_t n = t.impl().shape[d];
            out.narrow(static_cast<std::int64_t>(d), offset, n).copy_(t);
            sizes.push_back(n);
            offset += n;
        }
    }
    if (needs_grad(tensors)) {
        std::vector<Dtype> dtypes;
        dtypes.reserve(tensors.size());
        for (const Tensor& t : tensors) dtypes.push_back(t.dtype());
        record(
            out, "CatBackward0", tensors,
            [sizes, dtypes, d](const Tensor& g) {
                std::vector<Tensor> grads;
                std::int64_t offset = 0;
                for (std::size_t k = 0; k < sizes.size(); ++k) {
                    grads.push_back(g.narrow(static_cast<std::int64_t>(d), offset, sizes[k]).to(dtypes[k]));
                    offset += sizes[k];
                }
                return grads;
            },
            false, autograd::detail::kDifferentiable);
    }
    return out;
}

Tensor stack(const std::vector<Tensor>& tensors, std::int64_t dim) {
    if (tensors.empty()) throw ValueError("stack(): expected a non-empty list of Tensors");
    const Shape& first = tensors[0].shape();
    const std::int64_t d = normalize_dim(dim, static_cast<std::int64_t>(first.size()) + 1);
    std::vector<Tensor> expanded;
    for (std::size_t k = 0; k < tensors.size(); ++k) {
        if (tensors[k].shape() != first) {
            throw ShapeError("stack(): stack expects each tensor to be equal size, but got " + shape_to_list(first) +
                             " at entry 0 and " + shape_to_list(tensors[k].shape()) + " at entry " + std::to_string(k));
        }
        expanded.push_back(tensors[k].unsqueeze(d));
    }
    return cat(expanded, d);
}

std::vector<Tensor> Tensor::split(std::int64_t split_size, std::int64_t dim) const {
    const TensorImpl& i = detail::checked(*this, "split");
    if (split_size <= 0) throw ValueError("split(): split_size must be positive, got " + std::to_string(split_size));
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size())));
    std::vector<Tensor> parts;
    for (std::int64_t start = 0; start < i.shape[d]; start += split_size) {
        parts.push_back(narrow(static_cast<std::int64_t>(d), start, std::min(split_size, i.shape[d] - start)));
        // PyTorch forbids in-place writes through the outputs of a multi-output view op, and using them
        // after their base was written in place (autograd cannot tell which output was meant).
        ViewMeta& meta = *parts.back().impl().view_meta;
        meta.multi_output_creator = "SplitBackward0";
        meta.output_index = static_cast<std::int64_t>(parts.size()) - 1;
    }
    if (parts.empty()) parts.push_back(*this);
    return parts;
}

std::vector<Tensor> Tensor::chunk(std::int64_t chunks, std::int64_t dim) const {
    const TensorImpl& i = detail::checked(*this, "chunk");
    if (chunks <= 0) throw ValueError("chunk(): chunks must be greater than 0, got " + std::to_string(chunks));
    const auto d = static_cast<std::size_t>(normalize_dim(dim, static_cast<std::int64_t>(i.shape.size())));
    const std::int64_t size = (i.shape[d] + chunks - 1) / chunks;
    return split(std::max<std::int64_t>(size, 1), dim);
}

}  // namespace lazynn
