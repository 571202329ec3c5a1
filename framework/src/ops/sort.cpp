// sort, argsort and topk along one dim. Each row (the dim moved last, made contiguous) sorts an
// index permutation with std::sort / std::stable_sort (O(n log n)), or selects with
// std::nth_element + partial sorting for topk; rows run in parallel. The values are a gather by
// the indices, so their gradient is gather's (a scatter_add).
#include "autograd/function_node.hpp"
#include "ops/elementwise.hpp"

#include <numeric>

namespace lazynn {

namespace {

/// NaN is the largest value (PyTorch's order); `descending` reverses the order.
template <class T>
bool before(T a, T b, bool descending) {
    if constexpr (std::is_floating_point_v<T>) {
        if (std::isnan(a) || std::isnan(b))
            return descending ? (std::isnan(a) && !std::isnan(b)) : (!std::isnan(a) && std::isnan(b));
    }
    return descending ? a > b : a < b;
}

/// Indices [.., k] along `dim` of the first k elements of each row in the requested order.
/// `k == size` sorts fully; `stable` keeps ties in their original order.
Tensor order_indices(const Tensor& t, std::int64_t dim, std::int64_t k, bool descending, bool stable, bool sorted,
                     const char* op) {
    const TensorImpl& ti = detail::checked(t, op);
    // 16-bit values order as their (exact) float32 values do.
    if (is_float16(ti.dtype))
        return order_indices(kernels::converted(t, kFloat32), dim, k, descending, stable, sorted, op);
    const auto rank = static_cast<std::int64_t>(ti.shape.size());
    const std::int64_t d = normalize_dim(dim, rank);
    // Rows: the dim moved last, contiguous.
    const Tensor moved = rank ? t.transpose(d, rank - 1) : t.reshape({1});
    const Tensor rows = detail::contiguous_data(moved);
    const std::int64_t n = rows.dim() ? rows.size(-1) : 1;
    const std::int64_t outer = n ? rows.numel() / n : 0;
    Shape out_shape = rows.shape();
    out_shape.back() = k;
    Tensor out = detail::empty_tensor(out_shape, kInt64);
    visit_dtype(ti.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = rows.impl().data<T>();
        std::int64_t* o = out.impl().data<std::int64_t>();
        const std::int64_t grain =
            std::max<std::int64_t>(1, kernels::kTranscendentalGrain / std::max<std::int64_t>(n, 1));
        kernels::elementwise_chunks(
            outer,
            [&](std::int64_t begin, std::int64_t end) {
                std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
                for (std::int64_t r = begin; r < end; ++r) {
                    const T* row = in + r * n;
                    std::iota(perm.begin(), perm.end(), std::int64_t{0});
                    // Ties broken by position keep every order deterministic (and stable when asked).
                    auto less = [&](std::int64_t a, std::int64_t b) {
                        if (before(row[a], row[b], descending)) return true;
                        if (before(row[b], row[a], descending)) return false;
                        return a < b;
                    };
                    if (k == n) {
                        if (stable)
                            std::stable_sort(perm.begin(), perm.end(), less);
                        else
                            std::sort(perm.begin(), perm.end(), less);
                    } else if (sorted) {
                        std::partial_sort(perm.begin(), perm.begin() + k, perm.end(), less);
                    } else {
                        std::nth_element(perm.begin(), perm.begin() + k, perm.end(), less);
                        std::sort(perm.begin(), perm.begin() + k);  // unsorted: in index order
                    }
                    std::copy(perm.begin(), perm.begin() + k, o + r * k);
                }
            },
            grain);
    });
    if (rank == 0) return out.reshape({});
    return out.transpose(d, rank - 1).contiguous();
}

}  // namespace

ValuesIndices Tensor::sort(std::int64_t dim, bool descending, bool stable) const {
    // Shapes: out values and indices have self's shape.
    const TensorImpl& ti = detail::checked(*this, "sort");
    const std::int64_t d = normalize_dim(dim, static_cast<std::int64_t>(ti.shape.size()));
    const std::int64_t n = ti.shape.empty() ? 1 : ti.shape[static_cast<std::size_t>(d)];
    Tensor indices = order_indices(*this, dim, n, descending, stable, true, "sort");
    return {gather(dim, indices), indices};
}

Tensor Tensor::argsort(std::int64_t dim, bool descending, bool stable) const {
    NoGradGuard no_grad;
    return sort(dim, descending, stable).indices;
}

ValuesIndices Tensor::topk(std::int64_t k, std::int64_t dim, bool largest, bool sorted) const {
    // Shapes: [.., n, ..] -> values and indices [.., k, ..] along dim.
    const TensorImpl& ti = detail::checked(*this, "topk");
    const std::int64_t d = normalize_dim(dim, static_cast<std::int64_t>(ti.shape.size()));
    const std::int64_t n = ti.shape.empty() ? 1 : ti.shape[static_cast<std::size_t>(d)];
    if (k < 0 || k > n)
        throw RuntimeError("topk(): selected index k out of range (k = " + std::to_string(k) + ", size " +
                           std::to_string(n) + ")");
    Tensor indices = order_indices(*this, dim, k, largest, false, sorted, "topk");
    return {gather(dim, indices), indices};
}

ValuesIndices sort(const Tensor& t, std::int64_t dim, bool descending, bool stable) {
    return t.sort(dim, descending, stable);
}
Tensor argsort(const Tensor& t, std::int64_t dim, bool descending, bool stable) {
    return t.argsort(dim, descending, stable);
}
ValuesIndices topk(const Tensor& t, std::int64_t k, std::int64_t dim, bool largest, bool sorted) {
    return t.topk(k, dim, largest, sorted);
}

}  // namespace lazynn
