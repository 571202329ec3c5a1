// matmul with NumPy semantics (1-D to batched N-D). The GEMMs (ops/gemm.hpp, ops/gemm_bf16.hpp) take
// transpose flags, so transposed views are never copied.
#include "autograd/function_node.hpp"
#include "ops/gemm.hpp"
#include "ops/float16_route.hpp"
#include "ops/gemm_bf16.hpp"
#include "ops/elementwise.hpp"

#include <lazynn/autocast.hpp>

namespace lazynn {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;
using autograd::detail::sum_to;

namespace {

/// How a matrix (the last two dims of a tensor) is laid out for BLAS.
struct MatrixLayout {
    bool transposed = false;
    std::int64_t ld = 0;
};

/// Row-major (unit column stride) or column-major (unit row stride) matrices pass straight to
/// BLAS; anything else needs a contiguous copy (returns false).
bool blas_layout(const TensorImpl& t, MatrixLayout& layout) {
    const std::size_t r = t.shape.size();
    const std::int64_t rows = t.shape[r - 2], cols = t.shape[r - 1];
    const std::int64_t rs = t.strides[r - 2], cs = t.strides[r - 1];
    if ((cs == 1 || cols == 1) && rs >= std::max<std::int64_t>(cols, 1)) {
        layout = {false, rs};
        return true;
    }
    if ((rs == 1 || rows == 1) && cs >= std::max<std::int64_t>(rows, 1)) {
        layout = {true, cs};
        return true;
    }
    return false;
}

template <class T>
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
          std::int64_t ldb, T* c, std::int64_t ldc) {
    if constexpr (std::is_same_v<T, BFloat16>) {
        kernels::gemm_bf16<BFloat16>(ta, tb, m, n, k, a, lda, b, ldb, nullptr, false, c, ldc);
    } else if constexpr (std::is_floating_point_v<T>) {
        kernels::gemm<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, T(0), c, ldc);
    } else {  // int64: no BLAS
        for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t j = 0; j < n; ++j) {
                T acc = 0;
                for (std::int64_t p = 0; p < k; ++p) {
                    acc += a[ta ? p * lda + i : i * lda + p] * b[tb ? j * ldb + p : p * ldb + j];
                }
                c[i * ldc + j] = acc;
            }
        }
    }
}

[[noreturn]] void throw_mismatch(const Shape& a, const Shape& b) {
    auto matrix = [](const Shape& s) {
        Shape m = s;
        if (m.size() == 1) m.insert(m.begin(), 1);
        return Shape(m.end() - 2, m.end());
    };
    throw ShapeError("matmul: shapes cannot be multiplied (" + shape_to_string(matrix(a)) + " and " +
                     shape_to_string(matrix(b)) + ")");
}

/// [..., n, k] x [..., k, m] -> [..., n, m] with broadcast batch dims; no autograd.
Tensor batched_matmul(const Tensor& a_in, const Tensor& b_in) {
    const Dtype dtype = promote_types(a_in.dtype(), b_in.dtype());
    if (is_float16(dtype) && !onednn::native_float16(dtype))  // float32 kernels, one rounding
        return batched_matmul(a_in.to(kFloat32), b_in.to(kFloat32)).to(dtype);
    Tensor a = kernels::converted(a_in, dtype);
    Tensor b = kernels::converted(b_in, dtype);
    MatrixLayout la, lb;
    if (!blas_layout(a.impl(), la)) {
        a = detail::contiguous_data(a);
        blas_layout(a.impl(), la);
    }
    if (!blas_layout(b.impl(), lb)) {
        b = detail::contiguous_data(b);
        blas_layout(b.impl(), lb);
    }
    const TensorImpl& ia = a.impl();
    const TensorImpl& ib = b.impl();
    const std::size_t ra = ia.shape.size(), rb = ib.shape.size();
    const std::int64_t n = ia.shape[ra - 2], k = ia.shape[ra - 1], m = ib.shape[rb - 1];
    const Shape batch_a(ia.shape.begin(), ia.shape.end() - 2), batch_b(ib.shape.begin(), ib.shape.end() - 2);
    const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
    Shape out_shape = batch;
    out_shape.push_back(n);
    out_shape.push_back(m);
    Tensor out = detail::empty_tensor(out_shape, dtype);
    if (out.numel() == 0) return out;
    // An empty contraction sums nothing; the operands may have no storage to point into.
    if (k == 0) return out.fill_(0.0);

    auto multiply = [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* pa = ia.data<T>();
        const T* pb = ib.data<T>();
        T* pc = out.impl().data<T>();
        // A batch of row-major matrices times one matrix is a single GEMM with the batch folded into rows.
        const bool fold = batch_b.empty() && !la.transposed && ia.is_contiguous();
        if (fold || batch.empty()) {
            const std::int64_t rows = fold ? shape_numel(batch) * n : n;
            gemm<T>(la.transposed, lb.transposed, rows, m, k, pa, la.ld, pb, lb.ld, pc, m);
            return;
        }
        Shape sa(batch_a.size()), sb(batch_b.size());
        for (std::size_t i = 0; i < batch_a.size(); ++i) sa[i] = ia.strides[i];
        for (std::size_t i = 0; i < batch_b.size(); ++i) sb[i] = ib.strides[i];
        TensorImpl view_a, view_b;
        view_a.shape = batch_a;
        view_a.strides = sa;
        view_b.shape = batch_b;
        view_b.strides = sb;
        const std::array<Shape, 2> strides{kernels::broadcast_strides(view_a, batch),
                                           kernels::broadcast_strides(view_b, batch)};
        std::int64_t index = 0;
        kernels::for_each_run<2>(batch, strides, [&](const auto& off, std::int64_t count, const auto& inner) {
            for (std::int64_t c = 0; c < count; ++c, ++index) {
                gemm<T>(la.transposed, lb.transposed, n, m, k, pa + off[0] + c * inner[0], la.ld,
                        pb + off[1] + c * inner[1], lb.ld, pc + index * n * m, m);
            }
        });
    };
    if (dtype == kBFloat16)
        multiply(TypeTag<BFloat16>{});
    else
        visit_dtype(dtype, multiply);
    return out;
}

/// Rank >= 2 on both sides; records the backward.
Tensor matmul_nd(const Tensor& a, const Tensor& b) {
    const Shape& sa = a.shape();
    const Shape& sb = b.shape();
    if (sa[sa.size() - 1] != sb[sb.size() - 2]) throw_mismatch(sa, sb);
    Tensor out = batched_matmul(a, b);
    if (needs_grad({&a, &b})) {
        record(
            out, "MmBackward0", {a, b},
            [sa_ = SavedTensor(a), sb_ = SavedTensor(b), ra = a.requires_grad(),
             rb = b.requires_grad()](const Tensor& g) {
                const Tensor x = sa_.unpack();
                const Tensor y = sb_.unpack();
                Tensor ga, gb;
                if (ra) ga = sum_to(batched_matmul(g, y.transpose(-1, -2)), x.shape()).to(x.dtype());
                if (rb) {
                    if (y.dim() == 2 && x.dim() > 2) {
                        // Fold the batch: x^T g over all rows at once.
                        const std::int64_t k = x.size(-1);
                        gb = batched_matmul(x.reshape({-1, k}).t(), g.reshape({-1, g.size(-1)})).to(y.dtype());
                    } else {
                        gb = sum_to(batched_matmul(x.transpose(-1, -2), g), y.shape()).to(y.dtype());
                    }
                }
                return std::vector<Tensor>{ga, gb};
            },
            true,
            [ra = a.requires_grad(), rb = b.requires_grad()](const Tensor& g,
                                                             const autograd::detail::BackwardInputs& in) {
                const Tensor x = in[0], y = in[1];
                Tensor ga, gb;
                if (ra) ga = sum_to(matmul_nd(g, y.transpose(-1, -2)), x.shape()).to(x.dtype());
                if (rb) gb = sum_to(matmul_nd(x.transpose(-1, -2), g), y.shape()).to(y.dtype());
                return std::vector<Tensor>{ga, gb};
            });
    }
    return out;
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b) {
    if (autocast::LowerPrecisionRegion lower; lower.active()) return matmul(lower(a), lower(b));
    const TensorImpl& ia = detail::checked(a, "matmul");
    const TensorImpl& ib = detail::checked(b, "matmul");
    if (const Dtype half = ops::detail::float16_to_widen({&a, &b}); half != kFloat32)
        return matmul(detail::widened(a), detail::widened(b)).to(half);
    const std::size_t ra = ia.shape.size(), rb = ib.shape.size();
    if (ra == 0 || rb == 0) {
        throw ShapeError("matmul: both arguments need at least 1 dimension, but got " + std::to_string(ra) + "D and " +
                         std::to_string(rb) + "D tensors");
    }
    if (ra == 1 && rb == 1) {
        if (ia.shape[0] != ib.shape[0]) {
            throw ShapeError("matmul: inconsistent tensor size, expected tensor [" + std::to_string(ia.shape[0]) +
                             "] and src [" + std::to_string(ib.shape[0]) +
                             "] to have the same number of elements, but got " + std::to_string(ia.shape[0]) + " and " +
                             std::to_string(ib.shape[0]) + " elements respectively");
        }
        return matmul_nd(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
    }
    if (ra == 1) {
        if (ia.shape[0] != ib.shape[rb - 2]) throw_mismatch(ia.shape, ib.shape);
        return matmul_nd(a.unsqueeze(0), b).squeeze(-2);
    }
    if (rb == 1) {
        if (ia.shape[ra - 1] != ib.shape[0]) {
            throw ShapeError("matmul: shapes cannot be multiplied (" +
                             shape_to_string(Shape(ia.shape.end() - 2, ia.shape.end())) + " and " +
                             shape_to_string(ib.shape) + "x1)");
        }
        return matmul_nd(a, b.unsqueeze(1)).squeeze(-1);
    }
    return matmul_nd(a, b);
}

Tensor Tensor::matmul(const Tensor& other) const { return lazynn::matmul(*this, other); }

}  // namespace lazynn
