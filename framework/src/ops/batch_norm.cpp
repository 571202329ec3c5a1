// Batch normalisation over [N, C, S] as one fused kernel (statistics, transform, optional ReLU) with
// its backward (also in recording ops, for create_graph); BatchNorm and InstanceNorm (lazynn::nn)
// both run on it. batch_norm_relu_max_pool2x2 adds a following ReLU and 2x2 max pooling to the
// same passes.
#include "autograd/function_node.hpp"
#include "ops/batch_norm_channels.hpp"
#include "ops/pooling_kernels.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/error.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/ops/normalization.hpp>
#include <lazynn/ops/pooling.hpp>

#include <algorithm>
#include <cmath>

namespace lazynn::ops {
namespace {

using autograd::detail::BackwardInputs;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

/// Calls fn(TypeTag<S>{}) with the storage type of a batch norm's input: float32, float64, or a 16-bit
/// type that BatchNormChannels widens channel by channel (other dtypes throw DtypeError naming `op`).
template <class Fn>
decltype(auto) visit_batch_norm_storage(Dtype dtype, const char* op, Fn&& fn) {
    if (dtype == kBFloat16) return fn(TypeTag<BFloat16>{});
    if (dtype == kFloat16) return fn(TypeTag<Half>{});
    return visit_floating(dtype, op, std::forward<Fn>(fn));
}

/// The gradients of the per-channel parameters, in their own dtype (float32 for a 16-bit input's
/// float32 weight and bias: PyTorch's mixed batch norm).
Tensor parameter_gradient(const std::vector<double>& sums, Dtype dtype) {
    return tensor(sums, {static_cast<std::int64_t>(sums.size())}, kFloat64).to(dtype);
}

/// The dtype of an optional per-channel parameter (float32 when absent: nothing reads it then).
Dtype dtype_of(const Tensor& parameter) { return parameter.defined() ? parameter.dtype() : kFloat32; }

/// Channels per thread chunk: enough elements that splitting pays.
std::int64_t channel_grain(std::int64_t per_channel) {
    return std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(per_channel, 1));
}

/// The per-channel tensors must hold one value per channel: a wrong length would read past the
/// end or silently drop channels (PyTorch's messages).
void check_per_channel(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean_in,
                       const Tensor& var_in) {
    const std::pair<const char*, const Tensor*> per_channel[] = {
        {"weight", &weight}, {"bias", &bias}, {"running_mean", &mean_in}, {"running_var", &var_in}};
    for (const auto& [what, t] : per_channel) {
        if (t->defined() && t->numel() != input.size(1)) {
            throw RuntimeError(std::string(what) + " should contain " + std::to_string(input.size(1)) +
                               " elements not " + std::to_string(t->numel()));
        }
    }
}

/// What a batch norm applies to each channel: the statistics it normalises with, 1 / sqrt(var + eps),
/// the affine weight and bias, and the map x * scale + shift that combines them.
struct ChannelMap {
    std::vector<double> mean, invstd, weight, bias, scale, shift;
    double eps = 0;

    /// Channel ch's entries from its mean and biased variance.
    void set_channel(std::int64_t ch, double channel_mean, double channel_var) {
        const auto k = static_cast<std::size_t>(ch);
        mean[k] = channel_mean;
        invstd[k] = 1.0 / std::sqrt(channel_var + eps);
        scale[k] = weight[k] * invstd[k];
        shift[k] = bias[k] - mean[k] * scale[k];
    }
};

/// The channel map of c channels: complete from mean_in / var_in without use_batch; with use_batch,
/// the affine part only, set_channel filling each channel from the batch as the forward meets it.
ChannelMap channel_map(std::int64_t c, const Tensor& weight, const Tensor& bias, const Tensor& mean_in,
                       const Tensor& var_in, bool use_batch, double eps) {
    const auto channels = static_cast<std::size_t>(c);
    ChannelMap map;
    map.eps = eps;
    map.weight = weight.defined() ? weight.to_vector<double>() : std::vector<double>(channels, 1.0);
    map.bias = bias.defined() ? bias.to_vector<double>() : std::vector<double>(channels, 0.0);
    for (auto* v : {&map.mean, &map.invstd, &map.scale, &map.shift}) v->resize(channels);
    if (!use_batch) {
        const std::vector<double> mean = mean_in.to_vector<double>(), var = var_in.to_vector<double>();
        for (std::int64_t ch = 0; ch < c; ++ch)
            map.set_channel(ch, mean[static_cast<std::size_t>(ch)], var[static_cast<std::size_t>(ch)]);
    }
    return map;
}

/// The batch statistics the kernels fill (channel by channel, as the forward meets each), or none.
struct BatchStatistics {
    double* mean = nullptr;
    double* var = nullptr;
};

/// Sizes batch_mean / batch_var for c channels and points the kernels at them (with use_batch).
BatchStatistics batch_statistics(bool use_batch, std::int64_t c, std::vector<double>& batch_mean,
                                 std::vector<double>& batch_var) {
    if (!use_batch) return {};
    batch_mean.assign(static_cast<std::size_t>(c), 0.0);
    batch_var.assign(static_cast<std::size_t>(c), 0.0);
    return {batch_mean.data(), batch_var.data()};
}

/// batch_norm's gradients for input, weight and bias in recording ops (create_graph), for the
/// gradient g reaching its output (after any ReLU's mask). A 16-bit input's are computed in float32,
/// as its forward computed, and each gradient is returned in its input's dtype. Shapes: g as in[0],
/// [N, C, *].
std::vector<Tensor> batch_norm_grad_graph(const Tensor& g_given, const BackwardInputs& in, bool use_batch, double eps,
                                          const std::vector<double>& mean, const std::vector<double>& invstd) {
    const Dtype input_dtype = in[0].dtype(), dtype = compute_dtype(input_dtype);
    const std::int64_t n = in[0].size(0), c = in[0].size(1), s = in[0].numel() / (n * c);
    const Tensor xs = in[0].to(dtype).reshape({n, c, s});
    const Tensor g = g_given.to(dtype).reshape({n, c, s});
    const Tensor gamma = in[1].defined() ? in[1].to(dtype).reshape({1, c, 1}) : ones({1, c, 1}, dtype);
    Tensor xhat, grad_x;
    const Tensor gxhat = g * gamma;
    if (use_batch) {
        // Training: the batch statistics depend on x too.
        const Tensor centred = xs - xs.mean({0, 2}, true);
        const Tensor rstd = ((centred * centred).mean({0, 2}, true) + eps).rsqrt();
        xhat = centred * rstd;
        grad_x = rstd * (gxhat - gxhat.mean({0, 2}, true) - xhat * (gxhat * xhat).mean({0, 2}, true));
    } else {
        // Evaluation: the running statistics are constants.
        const Tensor m = tensor(mean, {1, c, 1}, kFloat64).to(dtype);
        const Tensor rstd = tensor(invstd, {1, c, 1}, kFloat64).to(dtype);
        xhat = (xs - m) * rstd;
        grad_x = gxhat * rstd;
    }
    return std::vector<Tensor>{in.needs(0) ? grad_x.reshape(in[0].shape()).to(input_dtype) : Tensor(),
                               in.needs(1) ? (g * xhat).sum({0, 2}).to(in[1].dtype()) : Tensor(),
                               in.needs(2) ? g.sum({0, 2}).to(in[2].dtype()) : Tensor()};
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean_in,
                  const Tensor& var_in, bool use_batch, double eps, bool relu, std::vector<double>& batch_mean,
                  std::vector<double>& batch_var) {
    check_per_channel(input, weight, bias, mean_in, var_in);
    const Tensor x = lazynn::detail::contiguous_data(input);
    const std::int64_t n = input.size(0), c = input.size(1), s = input.numel() / std::max<std::int64_t>(n * c, 1);
    const std::int64_t grain = channel_grain(n * s);
    Tensor out = lazynn::detail::empty_tensor(input.shape(), input.dtype());
    ChannelMap map = channel_map(c, weight, bias, mean_in, var_in, use_batch, eps);
    const BatchStatistics stats = batch_statistics(use_batch, c, batch_mean, batch_var);
    visit_batch_norm_storage(input.dtype(), "batch_norm", [&](auto tag) {
        using S = typename decltype(tag)::type;
        const S* xv = x.impl().data<S>();
        S* o = out.impl().data<S>();
        lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
            detail::BatchNormChannels<S>::forward(
                xv, o, n, c, s, first, end, stats.mean, stats.var,
                [&](std::int64_t ch) { map.set_channel(ch, stats.mean[ch], stats.var[ch]); }, map.scale.data(),
                map.shift.data(), relu);
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
                   gb = bias.defined() && bias.requires_grad();
        // With the ReLU fused, the output is saved for its mask (as ReLU's own backward saves it),
        // and the node carries the name PyTorch shows for the output's grad_fn.
        record(
            out, relu ? "ReluBackward0" : "NativeBatchNormBackward0", {input, weight, bias},
            [sx = SavedTensor(x), sy = SavedTensor(relu ? out : Tensor()), relu, map, use_batch, n, c, s, grain, gx, gw,
             gb, weight_dtype = dtype_of(weight), bias_dtype = dtype_of(bias)](const Tensor& g_in) {
                const Tensor xv_t = sx.unpack();
                const Tensor g = lazynn::detail::contiguous_data(g_in.to(xv_t.dtype()));
                const Tensor y = sy.unpack();
                Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                std::vector<double> sum_dy(static_cast<std::size_t>(c), 0.0),
                    sum_dy_xhat(static_cast<std::size_t>(c), 0.0);
                visit_batch_norm_storage(xv_t.dtype(), "batch_norm_backward", [&](auto tag) {
                    using S = typename decltype(tag)::type;
                    lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                        detail::BatchNormChannels<S>::backward(
                            xv_t.impl().data<S>(), g.impl().data<S>(), relu ? y.impl().data<S>() : nullptr,
                            gx ? grad_x.impl().data<S>() : nullptr, n, c, s, first, end, map.mean.data(),
                            map.invstd.data(), map.weight.data(), use_batch, sum_dy.data(), sum_dy_xhat.data());
                    });
                });
                Tensor grad_w = gw ? parameter_gradient(sum_dy_xhat, weight_dtype) : Tensor();
                Tensor grad_b = gb ? parameter_gradient(sum_dy, bias_dtype) : Tensor();
                return std::vector<Tensor>{grad_x, grad_w, grad_b};
            },
            true,
            [sy = SavedTensor(relu ? out : Tensor()), relu, map, use_batch, eps](const Tensor& g_given,
                                                                                 const BackwardInputs& in) {
                // The same gradients in recording ops (create_graph); the ReLU's mask is a constant.
                Tensor g = g_given;
                if (relu) g = g * (sy.unpack() > 0.0).to(g.dtype());
                return batch_norm_grad_graph(g, in, use_batch, eps, map.mean, map.invstd);
            });
    }
    return out;
}

Tensor batch_norm_relu_max_pool2x2(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean_in,
                                   const Tensor& var_in, bool use_batch, double eps, std::vector<double>& batch_mean,
                                   std::vector<double>& batch_var) {
    if (input.dim() != 4 || input.size(2) < 2 || input.size(3) < 2 || input.size(0) * input.size(1) == 0 ||
        !is_floating(input.dtype())) {
        throw ValueError(
            "batch_norm_relu_max_pool2x2: expected a floating-point input [N, C, H, W] with N, C >= 1 "
            "and H, W >= 2, got " +
            dtype_name(input.dtype()) + " " + shape_to_list(input.shape()) +
            "; run batch_norm, relu and max_pool2d separately for other inputs");
    }
    check_per_channel(input, weight, bias, mean_in, var_in);
    const Tensor x = lazynn::detail::contiguous_data(input);
    const std::int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
    const std::int64_t grain = channel_grain(n * h * w);
    Tensor out = lazynn::detail::empty_tensor({n, c, h / 2, w / 2}, input.dtype());
    ChannelMap map = channel_map(c, weight, bias, mean_in, var_in, use_batch, eps);
    const BatchStatistics stats = batch_statistics(use_batch, c, batch_mean, batch_var);
    visit_batch_norm_storage(input.dtype(), "batch_norm_relu_max_pool2x2", [&](auto tag) {
        using S = typename decltype(tag)::type;
        const S* xv = x.impl().data<S>();
        S* o = out.impl().data<S>();
        lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
            detail::BatchNormChannels<S>::relu_max_pool_forward(
                xv, o, n, c, h, w, first, end, stats.mean, stats.var,
                [&](std::int64_t ch) { map.set_channel(ch, stats.mean[ch], stats.var[ch]); }, map.scale.data(),
                map.shift.data());
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
                   gb = bias.defined() && bias.requires_grad();
        // Only x is saved: the backward recomputes the normalised windows from it (the node carries
        // the name PyTorch shows for the pooled output's grad_fn).
        record(
            out, "MaxPool2DWithIndicesBackward0", {input, weight, bias},
            [sx = SavedTensor(x), map, use_batch, n, c, h, w, grain, gx, gw, gb, weight_dtype = dtype_of(weight),
             bias_dtype = dtype_of(bias)](const Tensor& g_in) {
                const Tensor xv_t = sx.unpack();
                const Tensor g = lazynn::detail::contiguous_data(g_in.to(xv_t.dtype()));
                Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                std::vector<double> sum_dy(static_cast<std::size_t>(c), 0.0),
                    sum_dy_xhat(static_cast<std::size_t>(c), 0.0);
                visit_batch_norm_storage(xv_t.dtype(), "batch_norm_relu_max_pool2x2_backward", [&](auto tag) {
                    using S = typename decltype(tag)::type;
                    lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                        detail::BatchNormChannels<S>::relu_max_pool_backward(
                            xv_t.impl().data<S>(), g.impl().data<S>(), gx ? grad_x.impl().data<S>() : nullptr, n, c, h,
                            w, first, end, map.scale.data(), map.shift.data(), map.mean.data(), map.invstd.data(),
                            map.weight.data(), use_batch, sum_dy.data(), sum_dy_xhat.data());
                    });
                });
                Tensor grad_w = gw ? parameter_gradient(sum_dy_xhat, weight_dtype) : Tensor();
                Tensor grad_b = gb ? parameter_gradient(sum_dy, bias_dtype) : Tensor();
                return std::vector<Tensor>{grad_x, grad_w, grad_b};
            },
            true,
            [map, use_batch, eps, c](const Tensor& g, const BackwardInputs& in) {
                // Recording ops (create_graph): the pooling's picks and the ReLU's mask are constants,
                // found again from the normalised input, then batch norm's own formula. The input is
                // normalised with a multiply and an add, not the kernel's fma, so at an exact tie
                // within rounding a window may pick another position than the first-order backward.
                Tensor picks, mask;
                {
                    NoGradGuard no_grad;
                    // A 16-bit input's normalised values are rounded before the ReLU and the pooling
                    // see them, as in the forward.
                    const Dtype dtype = compute_dtype(in[0].dtype());
                    const Tensor z = in[0].to(dtype) * tensor(map.scale, {1, c, 1, 1}, kFloat64).to(dtype) +
                                     tensor(map.shift, {1, c, 1, 1}, kFloat64).to(dtype);
                    const Tensor y = z.to(in[0].dtype()).relu();
                    picks = max_pool2d_with_indices(y, {2, 2}, {2, 2}, {0, 0}, {1, 1}, false).indices;
                    mask = 1.0 - (y <= 0.0).to(dtype);  // ReLU's backward: NaN passes
                }
                return batch_norm_grad_graph(detail::max_pool_grad_graph(g, picks, in[0].shape()) * mask, in, use_batch,
                                             eps, map.mean, map.invstd);
            });
    }
    return out;
}

}  // namespace lazynn::ops
