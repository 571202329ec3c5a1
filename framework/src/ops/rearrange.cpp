// Ops that copy elements into a new arrangement or mask some out: flip, tril, triu, masked_fill.
// Their backward applies the same rearrangement (or mask) to the gradient.
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;

Tensor Tensor::flip(const Shape& dims) const {
    // Shapes: out has self's shape.
    const TensorImpl& i = detail::checked(*this, "flip");
    const auto rank = static_cast<std::int64_t>(i.shape.size());
    std::vector<bool> flipped(i.shape.size(), false);
    for (auto d : dims) {
        const auto nd = static_cast<std::size_t>(normalize_dim(d, rank));
        if (rank > 0 && flipped[nd]) {
            throw ValueError("flip: dim " + std::to_string(d) + " appears multiple times in the list of dims");
        }
        if (rank > 0) flipped[nd] = true;
    }
    // Read self through a reversed geometry (negative strides, offset at the last element) into a
    // fresh contiguous tensor.
    TensorImpl reversed;
    reversed.storage = i.storage;
    reversed.dtype = i.dtype;
    reversed.shape = i.shape;
    reversed.strides = i.strides;
    reversed.offset = i.offset;
    if (i.numel() > 0) {
        for (std::size_t d = 0; d < i.shape.size(); ++d) {
            if (!flipped[d]) continue;
            reversed.offset += (i.shape[d] - 1) * i.strides[d];
            reversed.strides[d] = -i.strides[d];
        }
    }
    Tensor out = detail::empty_tensor(i.shape, i.dtype);
    if (i.numel() > 0) kernels::copy_strided(out.impl(), reversed);
    if (needs_grad({this})) {
        record(
            out, "FlipBackward0", {*this}, [dims](const Tensor& g) { return std::vector<Tensor>{g.flip(dims)}; }, false,
            autograd::detail::kDifferentiable);
    }
    return out;
}

namespace {

/// Keeps the elements of the last two dims with (column - row) in the kept range, zeroes the rest.
Tensor triangle(const Tensor& self, std::int64_t diagonal, bool lower, const char* name) {
    // Shapes: [..., R, C] -> [..., R, C].
    const TensorImpl& i = detail::checked(self, name);
    if (i.shape.size() < 2) throw ShapeError(std::string(name) + ": input tensor must have at least 2 dimensions");
    Tensor out = detail::empty_tensor(i.shape, i.dtype);
    kernels::copy_strided(out.impl(), i);
    const std::int64_t rows = i.shape[i.shape.size() - 2], cols = i.shape.back();
    const std::int64_t planes = rows * cols == 0 ? 0 : i.numel() / (rows * cols);
    visit_storage_dtype(i.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* p = out.impl().data<T>();
        for (std::int64_t plane = 0; plane < planes; ++plane) {
            for (std::int64_t r = 0; r < rows; ++r) {
                T* row = p + (plane * rows + r) * cols;
                for (std::int64_t c = 0; c < cols; ++c) {
                    const bool keep = lower ? c - r <= diagonal : c - r >= diagonal;
                    if (!keep) row[c] = T(0);
                }
            }
        }
    });
    if (needs_grad({&self})) {
        record(
            out, lower ? "TrilBackward0" : "TriuBackward0", {self},
            [diagonal, lower, name](const Tensor& g) {
                return std::vector<Tensor>{triangle(g, diagonal, lower, name)};
            },
            false, autograd::detail::kDifferentiable);
    }
    return out;
}

}  // namespace

Tensor Tensor::tril(std::int64_t diagonal) const { return triangle(*this, diagonal, true, "tril"); }
Tensor Tensor::triu(std::int64_t diagonal) const { return triangle(*this, diagonal, false, "triu"); }

Tensor Tensor::masked_fill(const Tensor& mask, double value) const {
    // Shapes: broadcast(self, mask). The value takes self's dtype (2.5 fills an int64 tensor with 2).
    const TensorImpl& i = detail::checked(*this, "masked_fill");
    // PyTorch 1.13 reads a non-bool mask's bytes as bools (a float 1.0 fills nothing); PyTorch 2
    // raises, and so does lazynn.
    if (detail::checked(mask, "masked_fill").dtype != kBool) {
        throw DtypeError("masked_fill_ only supports boolean masks, but got mask with dtype " +
                         dtype_name(mask.dtype()) + " (compare it, e.g. mask != 0)");
    }
    return where(mask, full({}, value, i.dtype), *this);
}

}  // namespace lazynn
