// Shape ops built from views, cat and expand, so autograd comes from those ops: repeat, roll,
// unbind, split by sizes.
#include "tensor_impl.hpp"

namespace lazynn {

Tensor Tensor::repeat(const Shape& repeats) const {
    // Shapes: [s0, .., sk] with repeats [r0, .., rm] (m >= k) -> [r0 * 1, .., r_{m-k+i} * s_i, ..].
    const TensorImpl& ti = detail::checked(*this, "repeat");
    if (repeats.size() < ti.shape.size()) {
        throw RuntimeError("repeat: Number of dimensions of repeat dims (" + std::to_string(repeats.size()) +
                           ") can not be smaller than number of dimensions of tensor (" +
                           std::to_string(ti.shape.size()) + ")");
    }
    for (auto r : repeats) {
        if (r < 0) throw RuntimeError("repeat: Trying to create tensor with negative dimension " + std::to_string(r));
    }
    const std::size_t lead = repeats.size() - ti.shape.size();
    // View self as [1, s0, 1, s1, ..], expand the 1s to the repeats, merge pairs.
    Shape padded(lead, 1), interleaved, expanded, out_shape;
    padded.insert(padded.end(), ti.shape.begin(), ti.shape.end());
    for (std::size_t k = 0; k < repeats.size(); ++k) {
        interleaved.insert(interleaved.end(), {1, padded[k]});
        expanded.insert(expanded.end(), {repeats[k], padded[k]});
        out_shape.push_back(repeats[k] * padded[k]);
    }
    return reshape(interleaved).expand(expanded).reshape(out_shape);
}

Tensor Tensor::roll(const Shape& shifts, const Shape& dims) const {
    // Shapes: out has self's shape.
    const TensorImpl& ti = detail::checked(*this, "roll");
    if (dims.empty()) {
        if (shifts.size() != 1)
            throw RuntimeError("roll: `shifts` required and its length must match `dims` (got " +
                               std::to_string(shifts.size()) + " shifts and no dims)");
        return reshape({-1}).roll(shifts, {0}).reshape(ti.shape);
    }
    if (shifts.size() != dims.size()) {
        throw RuntimeError("roll: shifts and dimensions must align. shifts: " + std::to_string(shifts.size()) +
                           ", dims:" + std::to_string(dims.size()));
    }
    Tensor out = *this;
    for (std::size_t k = 0; k < dims.size(); ++k) {
        const std::int64_t d = normalize_dim(dims[k], dim());
        const std::int64_t n = ti.shape.empty() ? 1 : ti.shape[static_cast<std::size_t>(d)];
        if (n == 0 || ti.shape.empty()) continue;
        const std::int64_t s = ((shifts[k] % n) + n) % n;
        if (s == 0) continue;
        // The last s elements move to the front.
        out = cat({out.narrow(d, n - s, s), out.narrow(d, 0, n - s)}, d);
    }
    return out.is_same(*this) ? clone() : out;
}

Tensor Tensor::roll(std::int64_t shift) const { return roll(Shape{shift}, Shape{}); }
Tensor Tensor::roll(std::int64_t shift, std::int64_t dim) const { return roll(Shape{shift}, Shape{dim}); }

std::vector<Tensor> Tensor::split(const std::vector<std::int64_t>& split_sizes, std::int64_t dim) const {
    // Shapes: [.., n, ..] with sizes summing to n -> one piece per size.
    const TensorImpl& ti = detail::checked(*this, "split_with_sizes");
    if (ti.shape.empty()) throw RuntimeError("split_with_sizes expects at least a 1-dimensional tensor");
    const std::int64_t d = normalize_dim(dim, this->dim());
    const std::int64_t n = ti.shape[static_cast<std::size_t>(d)];
    std::int64_t total = 0;
    for (auto s : split_sizes) {
        if (s < 0)
            throw RuntimeError(
                "split_with_sizes expects split_sizes have only non-negative entries, but got split_sizes=" +
                shape_to_list(split_sizes));
        total += s;
    }
    if (total != n) {
        throw RuntimeError("split_with_sizes expects split_sizes to sum exactly to " + std::to_string(n) +
                           " (input tensor's size at dimension " + std::to_string(d) +
                           "), but got split_sizes=" + shape_to_list(split_sizes));
    }
    std::vector<Tensor> out;
    std::int64_t start = 0;
    for (auto s : split_sizes) {
        out.push_back(narrow(d, start, s));
        start += s;
    }
    return out;
}

Tensor roll(const Tensor& t, const Shape& shifts, const Shape& dims) { return t.roll(shifts, dims); }
std::vector<Tensor> unbind(const Tensor& t, std::int64_t dim) { return t.unbind(dim); }

}  // namespace lazynn
