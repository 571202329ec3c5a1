// Convolutions as index_select + matmul (see conv_graph.hpp): the create_graph formulas of the
// convolution nodes.
#include "ops/conv_graph.hpp"

namespace lazynn::ops::detail {

namespace {

struct Layout {
    std::int64_t in_numel = 1, kernel_numel = 1, out_numel = 1, group_channels = 0, group_outputs = 0;
};

Layout layout_of(const ConvProblem& p) {
    Layout l;
    for (int d = 0; d < p.spatial; ++d) {
        const auto i = static_cast<std::size_t>(d);
        l.in_numel *= p.in[i];
        l.kernel_numel *= p.kernel[i];
        l.out_numel *= p.out[i];
    }
    l.group_channels = p.c / p.groups;
    l.group_outputs = p.o / p.groups;
    return l;
}

/// For every (channel, kernel tap, output position), the element of one sample's flattened input it
/// reads, or C * in_numel (a zero slot appended after the input) where it reads padding.
/// Shapes: -> [C * k * out] int64.
Tensor column_index(const ConvProblem& p, const Layout& l) {
    std::vector<std::int64_t> index(static_cast<std::size_t>(p.c * l.kernel_numel * l.out_numel));
    const std::int64_t zero_slot = p.c * l.in_numel;
    std::size_t at = 0;
    std::array<std::int64_t, 3> tap{}, pos{};
    for (std::int64_t c = 0; c < p.c; ++c) {
        for (std::int64_t k = 0; k < l.kernel_numel; ++k) {
            for (std::int64_t r = k, d = p.spatial - 1; d >= 0; --d) {  // k as a multi-index
                const auto i = static_cast<std::size_t>(d);
                tap[i] = r % p.kernel[i];
                r /= p.kernel[i];
            }
            for (std::int64_t o = 0; o < l.out_numel; ++o) {
                for (std::int64_t r = o, d = p.spatial - 1; d >= 0; --d) {
                    const auto i = static_cast<std::size_t>(d);
                    pos[i] = r % p.out[i];
                    r /= p.out[i];
                }
                std::int64_t flat = 0;
                bool inside = true;
                for (int d = 0; d < p.spatial; ++d) {
                    const auto i = static_cast<std::size_t>(d);
                    const std::int64_t coord = pos[i] * p.stride[i] + tap[i] * p.dilation[i] - p.pad_begin[i];
                    inside = inside && coord >= 0 && coord < p.in[i];
                    flat = flat * p.in[i] + coord;
                }
                index[at++] = inside ? c * l.in_numel + flat : zero_slot;
            }
        }
    }
    return tensor(index, Shape{static_cast<std::int64_t>(index.size())});
}

/// Shapes: x [N, C, in...] -> [N, groups, C/groups * k, out].
Tensor columns(const ConvProblem& p, const Layout& l, const Tensor& x) {
    const Tensor flat = cat({x.reshape({p.n, p.c * l.in_numel}), zeros({p.n, 1}, x.dtype())}, 1);
    return flat.index_select(1, column_index(p, l))
        .reshape({p.n, p.groups, l.group_channels * l.kernel_numel, l.out_numel});
}

Shape with_spatial(std::int64_t n, std::int64_t c, const std::array<std::int64_t, 3>& sizes, int spatial) {
    Shape shape{n, c};
    for (int d = 0; d < spatial; ++d) shape.push_back(sizes[static_cast<std::size_t>(d)]);
    return shape;
}

}  // namespace

Tensor convolution_graph(const ConvProblem& p, const Tensor& x, const Tensor& w) {
    const Layout l = layout_of(p);
    const Tensor weights = w.reshape({p.groups, l.group_outputs, l.group_channels * l.kernel_numel});
    // [G, O/G, C/G*k] x [N, G, C/G*k, out] -> [N, G, O/G, out]
    return matmul(weights, columns(p, l, x)).reshape(with_spatial(p.n, p.o, p.out, p.spatial));
}

Tensor convolution_input_grad_graph(const ConvProblem& p, const Tensor& gy, const Tensor& w) {
    const Layout l = layout_of(p);
    const Tensor weights_t = w.reshape({p.groups, l.group_outputs, l.group_channels * l.kernel_numel}).transpose(1, 2);
    // [G, C/G*k, O/G] x [N, G, O/G, out] -> [N, G, C/G*k, out]: each column's share, then summed
    // into the input element it was read from.
    const Tensor column_grads =
        matmul(weights_t, gy.reshape({p.n, p.groups, l.group_outputs, l.out_numel})).reshape({p.n, -1});
    const Tensor index = column_index(p, l).unsqueeze(0).expand({p.n, column_grads.size(1)}).contiguous();
    return zeros({p.n, p.c * l.in_numel + 1}, gy.dtype())
        .scatter_add(1, index, column_grads)
        .narrow(1, 0, p.c * l.in_numel)
        .reshape(with_spatial(p.n, p.c, p.in, p.spatial));
}

Tensor convolution_weight_grad_graph(const ConvProblem& p, const Tensor& x, const Tensor& gy) {
    const Layout l = layout_of(p);
    const Tensor grads = gy.reshape({p.n, p.groups, l.group_outputs, l.out_numel});
    // [N, G, O/G, out] x [N, G, out, C/G*k] -> [N, G, O/G, C/G*k], summed over the batch.
    return matmul(grads, columns(p, l, x).transpose(2, 3))
        .sum({0})
        .reshape(with_spatial(p.o, l.group_channels, p.kernel, p.spatial));
}

std::vector<Tensor> convolution_backward_graph(const ConvProblem& p, const Tensor& gy, const Tensor& x, const Tensor& w,
                                               bool want_input, bool want_weight, bool want_bias) {
    Shape batch_and_space{0};
    for (int d = 0; d < p.spatial; ++d) batch_and_space.push_back(d + 2);
    return {want_input ? convolution_input_grad_graph(p, gy, w) : Tensor(),
            want_weight ? convolution_weight_grad_graph(p, x, gy) : Tensor(),
            want_bias ? gy.sum(batch_and_space) : Tensor()};
}

}  // namespace lazynn::ops::detail
