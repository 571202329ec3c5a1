#pragma once
// Iteration over strided, broadcast operands (internal). Kernels receive one innermost run at a
// time (base offsets, length, per-operand inner stride) and loop over raw pointers themselves.

#include "tensor_impl.hpp"

#include <array>

namespace lazynn::kernels {

/// Strides of `t` read as `out_shape` under broadcasting: 0 on broadcast dims.
inline Shape broadcast_strides(const TensorImpl& t, const Shape& out_shape) {
    Shape strides(out_shape.size(), 0);
    const std::size_t lead = out_shape.size() - t.shape.size();
    for (std::size_t i = 0; i < t.shape.size(); ++i) {
        strides[lead + i] = t.shape[i] == 1 ? 0 : t.strides[i];
    }
    return strides;
}

/// Merges adjacent dims that every operand walks contiguously (stride[d] == stride[d+1] * size[d+1]),
/// so innermost runs are as long as possible: [N, C, H, W] + [1, C, 1, 1] runs over H*W at a time.
template <std::size_t N>
void coalesce(Shape& shape, std::array<Shape, N>& strides) {
    if (shape.size() < 2) return;
    Shape out_shape{shape[0]};
    std::array<Shape, N> out_strides;
    for (std::size_t k = 0; k < N; ++k) out_strides[k] = {strides[k][0]};
    for (std::size_t d = 1; d < shape.size(); ++d) {
        bool mergeable = true;
        for (std::size_t k = 0; k < N && mergeable; ++k) mergeable = out_strides[k].back() == strides[k][d] * shape[d];
        if (mergeable) {
            out_shape.back() *= shape[d];
            for (std::size_t k = 0; k < N; ++k) out_strides[k].back() = strides[k][d];
        } else {
            out_shape.push_back(shape[d]);
            for (std::size_t k = 0; k < N; ++k) out_strides[k].push_back(strides[k][d]);
        }
    }
    shape = std::move(out_shape);
    strides = std::move(out_strides);
}

/// How many innermost rows for_each_run visits for these operands (after coalescing).
template <std::size_t N>
std::int64_t count_runs(Shape shape, std::array<Shape, N> strides) {
    if (shape_numel(shape) == 0) return 0;
    if (shape.empty()) return 1;
    coalesce<N>(shape, strides);
    return shape_numel(shape) / shape.back();
}

/// Calls run(offsets, count, inner_strides) for the innermost rows [first, last) of `shape_in`, in
/// the order for_each_run visits them (so callers can split the rows over threads).
template <std::size_t N, class Run>
void for_each_run_between(const Shape& shape_in, const std::array<Shape, N>& strides_in, std::int64_t first,
                          std::int64_t last, Run&& run) {
    std::array<std::int64_t, N> offsets{};
    if (shape_numel(shape_in) == 0 || first >= last) return;
    if (shape_in.empty()) {
        std::array<std::int64_t, N> unit{};
        run(offsets, std::int64_t{1}, unit);
        return;
    }
    Shape shape = shape_in;
    std::array<Shape, N> strides = strides_in;
    coalesce<N>(shape, strides);
    const std::size_t rank = shape.size();
    std::array<std::int64_t, N> inner{};
    for (std::size_t k = 0; k < N; ++k) inner[k] = strides[k][rank - 1];
    const std::int64_t count = shape[rank - 1];
    Shape index(rank, 0);
    for (std::int64_t d = static_cast<std::int64_t>(rank) - 2, rest = first; d >= 0; --d) {
        const auto du = static_cast<std::size_t>(d);
        index[du] = rest % shape[du];
        rest /= shape[du];
        for (std::size_t k = 0; k < N; ++k) offsets[k] += index[du] * strides[k][du];
    }
    for (std::int64_t r = first; r < last; ++r) {
        run(offsets, count, inner);
        for (std::size_t d = rank - 1; d-- > 0;) {
            ++index[d];
            for (std::size_t k = 0; k < N; ++k) offsets[k] += strides[k][d];
            if (index[d] < shape[d]) break;
            for (std::size_t k = 0; k < N; ++k) offsets[k] -= strides[k][d] * shape[d];
            index[d] = 0;
        }
    }
}

/// Calls run(offsets, count, inner_strides) for every innermost row of `shape_in`.
template <std::size_t N, class Run>
void for_each_run(const Shape& shape_in, const std::array<Shape, N>& strides_in, Run&& run) {
    for_each_run_between<N>(shape_in, strides_in, 0, count_runs<N>(shape_in, strides_in), run);
}

/// Copies `src` (broadcast to dst's shape, any dtype) into `dst` (any layout), converting.
void copy_strided(TensorImpl& dst, const TensorImpl& src);

}  // namespace lazynn::kernels
