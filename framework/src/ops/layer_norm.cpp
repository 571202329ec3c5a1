// Layer and group normalisation: each row of the input (a sample's trailing dims, or a group of a
// sample's channels) standardised in one fused kernel with its backward (PyTorch's native_layer_norm),
// which is also written in recording ops for create_graph.
#include "autograd/function_node.hpp"
#include "ops/norm_kernels.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/error.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/ops/normalization.hpp>

#include <algorithm>
#include <memory>
#include <mutex>

namespace lazynn::ops {
namespace {

using autograd::detail::BackwardInputs;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

/// Standardises each row of `input` viewed as [rows, len] and applies the optional per-column
/// weight and bias (of len elements), as one autograd node (PyTorch's native_layer_norm).
Tensor normalize_rows(const Tensor& input, const Tensor& weight, const Tensor& bias, std::int64_t len, double eps,
                      const char* op) {
    if (const Dtype dtype = input.dtype(); is_float16(dtype)) {
        // Normalised in float32 and rounded once, as PyTorch's 16-bit layer and group norm compute.
        using lazynn::detail::widened;
        return normalize_rows(input.to(kFloat32), widened(weight), widened(bias), len, eps, op).to(dtype);
    }
    for (const Tensor* t : {&weight, &bias}) {
        if (t->defined() && t->dtype() != input.dtype()) {
            throw DtypeError(std::string(op) + ": expected weight and bias of the input's dtype " +
                             dtype_name(input.dtype()) + ", got " + dtype_name(t->dtype()));
        }
    }
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor w = weight.defined() ? lazynn::detail::contiguous_data(weight) : Tensor();
    const Tensor b = bias.defined() ? lazynn::detail::contiguous_data(bias) : Tensor();
    const std::int64_t rows = len == 0 ? 0 : input.numel() / len;
    const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(len, 1));  // rows per thread
    auto stats = std::make_shared<std::vector<double>>(static_cast<std::size_t>(2 * rows));  // means, then invstds
    Tensor out = lazynn::detail::empty_tensor(input.shape(), input.dtype());
    visit_floating(input.dtype(), op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xv = x.impl().data<T>();
        const T* wv = w.defined() ? w.impl().data<T>() : nullptr;
        const T* bv = b.defined() ? b.impl().data<T>() : nullptr;
        T* o = out.impl().data<T>();
        double* mean = stats->data();
        double* invstd = mean + rows;
        lazynn::detail::parallel_for(rows, grain, [&](std::int64_t first, std::int64_t end) {
            detail::normalize_rows_forward(xv + first * len, wv, bv, o + first * len, mean + first, invstd + first,
                                           end - first, len, eps);
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
                   gb = bias.defined() && bias.requires_grad();
        record(
            out, "NativeLayerNormBackward0", {input, weight, bias},
            [sx = SavedTensor(x), sw = SavedTensor(w), stats, rows, len, grain, gx, gw, gb,
             param_shape = weight.defined() ? weight.shape() : Shape{}](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in);
                const Tensor xv_t = sx.unpack(), wv_t = sw.unpack();
                Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                // Chunks sum their weight/bias gradients privately; the partial sums are added in row
                // order so a run is reproducible whichever thread finishes first.
                std::mutex merge;
                std::vector<std::pair<std::int64_t, std::vector<double>>> partials;
                visit_floating(xv_t.dtype(), "layer_norm_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    const T* wv = wv_t.defined() ? wv_t.impl().data<T>() : nullptr;
                    const double* mean = stats->data();
                    lazynn::detail::parallel_for(rows, grain, [&](std::int64_t first, std::int64_t end) {
                        std::vector<double> sums(static_cast<std::size_t>((gw || gb) ? 2 * len : 0), 0.0);
                        detail::normalize_rows_backward(
                            xv_t.impl().data<T>() + first * len, g.impl().data<T>() + first * len, wv, mean + first,
                            mean + rows + first, gx ? grad_x.impl().data<T>() + first * len : nullptr,
                            gw ? sums.data() : nullptr, gb ? sums.data() + len : nullptr, end - first, len);
                        if (!gw && !gb) return;
                        std::lock_guard lock(merge);
                        partials.emplace_back(first, std::move(sums));
                    });
                });
                std::sort(partials.begin(), partials.end(),
                          [](const auto& l, const auto& r) { return l.first < r.first; });
                std::vector<double> total(static_cast<std::size_t>(2 * len), 0.0);
                for (const auto& part : partials) {
                    for (std::size_t i = 0; i < total.size(); ++i) total[i] += part.second[i];
                }
                const Dtype dtype = xv_t.dtype();
                const auto half = static_cast<std::ptrdiff_t>(len);
                Tensor grad_w =
                    gw ? tensor(std::vector<double>(total.begin(), total.begin() + half), param_shape, kFloat64)
                             .to(dtype)
                       : Tensor();
                Tensor grad_b =
                    gb ? tensor(std::vector<double>(total.begin() + half, total.end()), param_shape, kFloat64).to(dtype)
                       : Tensor();
                return std::vector<Tensor>{grad_x, grad_w, grad_b};
            },
            true,
            [rows, len, eps](const Tensor& g_given, const BackwardInputs& in) {
                // The same gradients in recording ops (create_graph). Shapes: rows as [rows, len].
                const Tensor row_values = in[0].reshape({rows, len});
                const Tensor g = g_given.reshape({rows, len});
                const Tensor centred = row_values - row_values.mean({1}, true);
                const Tensor rstd = ((centred * centred).mean({1}, true) + eps).rsqrt();
                const Tensor xhat = centred * rstd;
                const Tensor gxhat = in[1].defined() ? g * in[1].reshape({1, len}) : g;
                const Tensor grad_x = rstd * (gxhat - gxhat.mean({1}, true) - xhat * (gxhat * xhat).mean({1}, true));
                const Shape param_shape = in[1].defined() ? in[1].shape() : in[2].defined() ? in[2].shape() : Shape{};
                return std::vector<Tensor>{in.needs(0) ? grad_x.reshape(in[0].shape()) : Tensor(),
                                           in.needs(1) ? (g * xhat).sum({0}).reshape(param_shape) : Tensor(),
                                           in.needs(2) ? g.sum({0}).reshape(param_shape) : Tensor()};
            });
    }
    return out;
}

}  // namespace

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias,
                  double eps) {
    const auto k = static_cast<std::int64_t>(normalized_shape.size());
    const Shape& s = input.shape();
    if (k == 0 || input.dim() < k || !std::equal(normalized_shape.begin(), normalized_shape.end(), s.end() - k)) {
        Shape expected{-1};
        expected.insert(expected.end(), normalized_shape.begin(), normalized_shape.end());
        throw ShapeError("Given normalized_shape=" + shape_to_list(normalized_shape) +
                         ", expected input with shape [*, " + shape_to_list(normalized_shape).substr(1) +
                         ", but got input of size " + shape_to_list(s));
    }
    for (const Tensor* t : {&weight, &bias}) {
        if (t->defined() && t->shape() != normalized_shape) {
            throw ShapeError("layer_norm: expected weight and bias of shape " + shape_to_list(normalized_shape) +
                             ", got " + shape_to_list(t->shape()));
        }
    }
    std::int64_t len = 1;
    for (std::int64_t d : normalized_shape) len *= d;
    return normalize_rows(input, weight, bias, len, eps, "layer_norm");
}

Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
    if (input.dim() < 2) throw ShapeError("group_norm: expected input [N, C, *], got " + shape_to_list(input.shape()));
    const std::int64_t n = input.size(0), c = input.size(1);
    if (num_groups <= 0 || c % num_groups != 0) {
        throw ValueError("group_norm: expected the number of channels " + std::to_string(c) +
                         " to be divisible by num_groups=" + std::to_string(num_groups));
    }
    for (const Tensor* t : {&weight, &bias}) {
        if (t->defined() && t->shape() != Shape{c}) {
            throw ShapeError("group_norm: expected weight and bias of shape [" + std::to_string(c) + "], got " +
                             shape_to_list(t->shape()));
        }
    }
    const std::int64_t groups = n * num_groups;
    Tensor out = normalize_rows(input, Tensor(), Tensor(), groups == 0 ? 0 : input.numel() / groups, eps, "group_norm");
    if (!weight.defined() && !bias.defined()) return out;
    Shape channel(static_cast<std::size_t>(input.dim()), 1);
    channel[1] = c;
    if (weight.defined()) out = out * weight.reshape(channel);
    return bias.defined() ? out + bias.reshape(channel) : out;
}

}  // namespace lazynn::ops
