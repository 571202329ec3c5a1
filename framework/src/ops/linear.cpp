// linear with the bias (and optionally a following ReLU) fused into the GEMM, with its backward.
#include "autograd/function_node.hpp"
#include "ops/float16_route.hpp"
#include "ops/fused_relu.hpp"
#include "ops/gemm.hpp"
#include "ops/gemm_bf16.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autocast.hpp>

#include <lazynn/autograd.hpp>
#include <lazynn/error.hpp>
#include <lazynn/ops/linear.hpp>

#include <type_traits>
#include <vector>

namespace lazynn::ops {
namespace {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

/// C = op(A) op(B) (+ C when accumulate) in T: float32, float64, or bfloat16 on oneDNN's bfloat16 kernels.
template <class T>
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const T* a, std::int64_t lda, const T* b,
          std::int64_t ldb, bool accumulate, T* c, std::int64_t ldc) {
    if constexpr (std::is_same_v<T, BFloat16>) {
        (void)accumulate;  // the bfloat16 forward adds its bias inside the GEMM instead
        kernels::gemm_bf16<BFloat16>(ta, tb, m, n, k, a, lda, b, ldb, nullptr, false, c, ldc);
    } else {
        kernels::gemm<T>(ta, tb, m, n, k, T(1), a, lda, b, ldb, accumulate ? T(1) : T(0), c, ldc);
    }
}

/// fn(TypeTag<T>) for the dtypes linear's fused kernels run in: float32, float64 and (when it runs
/// natively) bfloat16.
template <class Fn>
void visit_linear(Dtype dtype, const char* op, Fn&& fn) {
    if (dtype == kBFloat16)
        fn(TypeTag<BFloat16>{});
    else
        visit_floating(dtype, op, fn);
}

/// The sum of each column of g[rows, n] into b[n] (which holds zeros), accumulated in float32 for bfloat16.
template <class T>
void sum_rows(const T* g, std::int64_t rows, std::int64_t n, T* b) {
    using Acc = std::conditional_t<std::is_same_v<T, BFloat16>, float, T>;
    std::vector<Acc> acc(static_cast<std::size_t>(n), Acc(0));
    for (std::int64_t r = 0; r < rows; ++r) {
        const T* row = g + r * n;
        for (std::int64_t j = 0; j < n; ++j) acc[static_cast<std::size_t>(j)] += static_cast<Acc>(row[j]);
    }
    for (std::int64_t j = 0; j < n; ++j) b[j] = T(acc[static_cast<std::size_t>(j)]);
}

/// linear, followed by ReLU in the same pass when `relu` (one node, no intermediate tensor).
Tensor linear_then(const Tensor& input, const Tensor& weight, const Tensor& bias, bool relu) {
    if (autocast::LowerPrecisionRegion lower; lower.active())
        return linear_then(lower(input), lower(weight), lower(bias), relu);
    if (const Dtype half = detail::float16_to_widen({&input, &weight, &bias}); half != kFloat32) {
        using lazynn::detail::widened;
        return linear_then(widened(input), widened(weight), widened(bias), relu).to(half);
    }
    const bool fused =
        input.dim() >= 1 && weight.dim() == 2 && input.dtype() == weight.dtype() && input.is_floating_point() &&
        (!bias.defined() || (bias.dim() == 1 && bias.dtype() == weight.dtype() && bias.size(0) == weight.size(0))) &&
        input.size(-1) == weight.size(1);
    if (!fused) {  // the general path reports shape and dtype problems
        Tensor out = matmul(input, weight.t());
        if (bias.defined()) out = out + bias;
        return relu ? out.relu() : out;
    }
    // out[M, O] = x[M, I] W[O, I]^T + b: one GEMM with beta = 1 over rows pre-filled with the bias.
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor w = lazynn::detail::contiguous_data(weight);
    const std::int64_t in_features = weight.size(1), out_features = weight.size(0);
    // Rows from the leading dims, not numel / in_features: with zero input features every row is the bias.
    const std::int64_t rows = shape_numel(Shape(input.shape().begin(), input.shape().end() - 1));
    Shape out_shape = input.shape();
    out_shape.back() = out_features;
    Tensor out = lazynn::detail::empty_tensor(out_shape, input.dtype());
    visit_linear(input.dtype(), "linear", [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* o = out.impl().data<T>();
        if constexpr (std::is_same_v<T, BFloat16>) {  // bias and ReLU inside oneDNN's matmul, one rounding
            const Tensor b = bias.defined() ? lazynn::detail::contiguous_data(bias.to(kFloat32)) : Tensor();
            kernels::gemm_bf16<BFloat16>(false, true, rows, out_features, in_features, x.impl().data<T>(), in_features,
                                         w.impl().data<T>(), in_features,
                                         b.defined() ? b.impl().data<float>() : nullptr, relu, o, out_features);
        } else {
            if (bias.defined()) {
                const Tensor b = lazynn::detail::contiguous_data(bias);
                const T* bv = b.impl().data<T>();
                for (std::int64_t r = 0; r < rows; ++r) std::copy(bv, bv + out_features, o + r * out_features);
            }
            gemm<T>(false, true, rows, out_features, in_features, x.impl().data<T>(), in_features, w.impl().data<T>(),
                    in_features, bias.defined(), o, out_features);
            if (relu) detail::relu_in_place(o, rows * out_features);
        }
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
        record(
            out, relu ? "ReluBackward0" : "AddmmBackward0", {input, weight, bias},
            [sx = SavedTensor(x), sw = SavedTensor(w), so = relu ? SavedTensor(out) : SavedTensor(), relu, gx, gw, gb,
             rows, in_features, out_features, in_shape = input.shape()](const Tensor& g_in) {
                // Through the ReLU first: the gradient where the output is positive (or NaN).
                const Tensor g = relu ? detail::relu_backward(lazynn::detail::contiguous_data(g_in), so.unpack())
                                      : lazynn::detail::contiguous_data(g_in);
                const Tensor xv = sx.unpack(), wv = sw.unpack();
                Tensor grad_x = gx ? lazynn::detail::empty_tensor(in_shape, xv.dtype()) : Tensor();
                Tensor grad_w = gw ? lazynn::detail::empty_tensor({out_features, in_features}, wv.dtype()) : Tensor();
                Tensor grad_b = gb ? lazynn::detail::empty_tensor({out_features}, wv.dtype()) : Tensor();
                visit_linear(xv.dtype(), "linear_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* gv = g.impl().data<T>();
                    if (gx)
                        gemm<T>(false, false, rows, in_features, out_features, gv, out_features, wv.impl().data<T>(),
                                in_features, false, grad_x.impl().data<T>(), in_features);
                    if (gw)
                        gemm<T>(true, false, out_features, in_features, rows, gv, out_features, xv.impl().data<T>(),
                                in_features, false, grad_w.impl().data<T>(), in_features);
                    if (gb) sum_rows(gv, rows, out_features, grad_b.impl().data<T>());
                });
                return std::vector<Tensor>{grad_x, grad_w, grad_b};
            },
            true,
            [so = relu ? SavedTensor(out) : SavedTensor(), relu, gx, gw, gb, in_features, out_features](
                const Tensor& g_in, const autograd::detail::BackwardInputs& in) {
                // create_graph: the same gradients with differentiable ops; the ReLU mask is constant.
                Tensor g = g_in;
                if (relu) {
                    const Tensor y = so.unpack();
                    g = g_in * detail::relu_backward(ones(y.shape(), y.dtype()), y);
                }
                const Tensor rows_g = g.reshape({-1, out_features});
                Tensor grad_x, grad_w, grad_b;
                if (gx) grad_x = matmul(g, in[1]);
                if (gw) grad_w = matmul(rows_g.t(), in[0].reshape({-1, in_features}));
                if (gb) grad_b = rows_g.sum({0});
                return std::vector<Tensor>{grad_x, grad_w, grad_b};
            });
    }
    return out;
}

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
    return linear_then(input, weight, bias, false);
}

Tensor linear_relu(const Tensor& input, const Tensor& weight, const Tensor& bias) {
    return linear_then(input, weight, bias, true);
}

}  // namespace lazynn::ops
