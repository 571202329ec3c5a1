// Batch normalisation over [N, C, S] as one fused kernel (statistics, transform, optional ReLU) with
// its backward (also in recording ops, for create_graph); BatchNorm and InstanceNorm (lazynn::nn)
// both run on it. batch_norm_relu_max_pool2x2 adds a following ReLU and 2x2 max pooling to the
// same passes.
#include "autograd/function_node.hpp"
#include "ops/batch_norm_pool_kernels.hpp"
#include "ops/norm_kernels.hpp"
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
/// the affine weight, and the map x * scale + shift that combines them.
struct ChannelMap {
    std::vector<double> mean, invstd, weight, scale, shift;
};

/// The channel map for x [n, c, s]: with use_batch, from the batch's statistics (also returned in
/// batch_mean / batch_var), else from mean_in / var_in.
template <class T>
ChannelMap channel_map(const T* x, std::int64_t n, std::int64_t c, std::int64_t s, const Tensor& weight,
                       const Tensor& bias, const Tensor& mean_in, const Tensor& var_in, bool use_batch, double eps,
                       std::vector<double>& batch_mean, std::vector<double>& batch_var) {
    const auto channels = static_cast<std::size_t>(c);
    ChannelMap map;
    map.weight = weight.defined() ? weight.to_vector<double>() : std::vector<double>(channels, 1.0);
    const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(channels, 0.0);
    std::vector<double> var;
    if (use_batch) {
        batch_mean.assign(channels, 0.0);
        batch_var.assign(channels, 0.0);
        lazynn::detail::parallel_for(c, channel_grain(n * s), [&](std::int64_t first, std::int64_t end) {
            detail::batch_norm_statistics(x, n, c, s, first, end, batch_mean.data(), batch_var.data());
        });
        map.mean = batch_mean;
        var = batch_var;
    } else {
        map.mean = mean_in.to_vector<double>();
        var = var_in.to_vector<double>();
    }
    map.invstd.resize(channels);
    map.scale.resize(channels);
    map.shift.resize(channels);
    for (std::size_t ch = 0; ch < channels; ++ch) {
        map.invstd[ch] = 1.0 / std::sqrt(var[ch] + eps);
        map.scale[ch] = map.weight[ch] * map.invstd[ch];
        map.shift[ch] = b[ch] - map.mean[ch] * map.scale[ch];
    }
    return map;
}

/// batch_norm's gradients for input, weight and bias in recording ops (create_graph), for the
/// gradient g reaching its output (after any ReLU's mask). Shapes: g as in[0], [N, C, *].
std::vector<Tensor> batch_norm_grad_graph(const Tensor& g_given, const BackwardInputs& in, bool use_batch, double eps,
                                          const std::vector<double>& mean, const std::vector<double>& invstd) {
    const std::int64_t n = in[0].size(0), c = in[0].size(1), s = in[0].numel() / (n * c);
    const Tensor xs = in[0].reshape({n, c, s});
    const Tensor g = g_given.reshape({n, c, s});
    const Dtype dtype = xs.dtype();
    const Tensor gamma = in[1].defined() ? in[1].reshape({1, c, 1}) : ones({1, c, 1}, dtype);
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
    return std::vector<Tensor>{in.needs(0) ? grad_x.reshape(in[0].shape()) : Tensor(),
                               in.needs(1) ? (g * xhat).sum({0, 2}) : Tensor(), in.needs(2) ? g.sum({0, 2}) : Tensor()};
}

}  // namespace

Tensor batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean_in,
                  const Tensor& var_in, bool use_batch, double eps, bool relu, std::vector<double>& batch_mean,
                  std::vector<double>& batch_var) {
    if (const Dtype dtype = input.dtype(); is_float16(dtype)) {
        // Normalised in float32 (PyTorch's 16-bit batch norm computes in float with float32
        // statistics and parameters) and rounded once.
        using lazynn::detail::widened;
        return batch_norm(input.to(kFloat32), widened(weight), widened(bias), widened(mean_in), widened(var_in),
                          use_batch, eps, relu, batch_mean, batch_var)
            .to(dtype);
    }
    check_per_channel(input, weight, bias, mean_in, var_in);
    const Tensor x = lazynn::detail::contiguous_data(input);
    const std::int64_t n = input.size(0), c = input.size(1), s = input.numel() / std::max<std::int64_t>(n * c, 1);
    const std::int64_t grain = channel_grain(n * s);
    Tensor out = lazynn::detail::empty_tensor(input.shape(), input.dtype());
    ChannelMap map;
    visit_floating(input.dtype(), "batch_norm", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xv = x.impl().data<T>();
        T* o = out.impl().data<T>();
        map = channel_map(xv, n, c, s, weight, bias, mean_in, var_in, use_batch, eps, batch_mean, batch_var);
        lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
            detail::batch_norm_transform(xv, o, n, c, s, first, end, map.scale.data(), map.shift.data(), relu);
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
                   gb = bias.defined() && bias.requires_grad();
        // With the ReLU fused, the output is saved for its mask (as ReLU's own backward saves it),
        // and the node carries the name PyTorch shows for the output's grad_fn.
        record(
            out, relu ? "ReluBackward0" : "NativeBatchNormBackward0", {input, weight, bias},
            [sx = SavedTensor(x), sy = SavedTensor(relu ? out : Tensor()), relu, mean = map.mean, invstd = map.invstd,
             w = map.weight, use_batch, n, c, s, grain, gx, gw, gb](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in);
                const Tensor xv_t = sx.unpack();
                const Tensor y = relu ? sy.unpack() : Tensor();
                Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                std::vector<double> sum_dy(static_cast<std::size_t>(c), 0.0),
                    sum_dy_xhat(static_cast<std::size_t>(c), 0.0);
                visit_floating(xv_t.dtype(), "batch_norm_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                        detail::batch_norm_backward(
                            xv_t.impl().data<T>(), g.impl().data<T>(), relu ? y.impl().data<T>() : nullptr,
                            gx ? grad_x.impl().data<T>() : nullptr, n, c, s, first, end, mean.data(), invstd.data(),
                            w.data(), use_batch, sum_dy.data(), sum_dy_xhat.data());
                    });
                });
                const Dtype dtype = xv_t.dtype();
                Tensor grad_w = gw ? tensor(sum_dy_xhat, {c}, kFloat64).to(dtype) : Tensor();
                Tensor grad_b = gb ? tensor(sum_dy, {c}, kFloat64).to(dtype) : Tensor();
                return std::vector<Tensor>{grad_x, grad_w, grad_b};
            },
            true,
            [sy = SavedTensor(relu ? out : Tensor()), relu, mean = map.mean, invstd = map.invstd, use_batch, eps](
                const Tensor& g_given, const BackwardInputs& in) {
                // The same gradients in recording ops (create_graph); the ReLU's mask is a constant.
                Tensor g = g_given;
                if (relu) g = g * (sy.unpack() > 0.0).to(g.dtype());
                return batch_norm_grad_graph(g, in, use_batch, eps, mean, invstd);
            });
    }
    return out;
}

Tensor batch_norm_relu_max_pool2x2(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean_in,
                                   const Tensor& var_in, bool use_batch, double eps, std::vector<double>& batch_mean,
                                   std::vector<double>& batch_var) {
    if (input.dim() != 4 || input.size(2) < 2 || input.size(3) < 2 || input.size(0) * input.size(1) == 0 ||
        !(input.dtype() == kFloat32 || input.dtype() == kFloat64)) {
        throw ValueError(
            "batch_norm_relu_max_pool2x2: expected a float32 or float64 input [N, C, H, W] with N, C >= 1 "
            "and H, W >= 2, got " +
            dtype_name(input.dtype()) + " " + shape_to_list(input.shape()) +
            "; run batch_norm, relu and max_pool2d separately for other inputs");
    }
    check_per_channel(input, weight, bias, mean_in, var_in);
    const Tensor x = lazynn::detail::contiguous_data(input);
    const std::int64_t n = input.size(0), c = input.size(1), h = input.size(2), w = input.size(3);
    const std::int64_t grain = channel_grain(n * h * w);
    Tensor out = lazynn::detail::empty_tensor({n, c, h / 2, w / 2}, input.dtype());
    ChannelMap map;
    visit_floating(input.dtype(), "batch_norm_relu_max_pool2x2", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xv = x.impl().data<T>();
        T* o = out.impl().data<T>();
        map = channel_map(xv, n, c, h * w, weight, bias, mean_in, var_in, use_batch, eps, batch_mean, batch_var);
        lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
            detail::batch_norm_relu_max_pool_forward(xv, o, n, c, h, w, first, end, map.scale.data(), map.shift.data());
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
                   gb = bias.defined() && bias.requires_grad();
        // Only x is saved: the backward recomputes the normalised windows from it (the node carries
        // the name PyTorch shows for the pooled output's grad_fn).
        record(
            out, "MaxPool2DWithIndicesBackward0", {input, weight, bias},
            [sx = SavedTensor(x), map, use_batch, n, c, h, w, grain, gx, gw, gb](const Tensor& g_in) {
                const Tensor g = lazynn::detail::contiguous_data(g_in);
                const Tensor xv_t = sx.unpack();
                Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                std::vector<double> sum_dy(static_cast<std::size_t>(c), 0.0),
                    sum_dy_xhat(static_cast<std::size_t>(c), 0.0);
                visit_floating(xv_t.dtype(), "batch_norm_relu_max_pool2x2_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                        detail::batch_norm_relu_max_pool_backward(
                            xv_t.impl().data<T>(), g.impl().data<T>(), gx ? grad_x.impl().data<T>() : nullptr, n, c, h,
                            w, first, end, map.scale.data(), map.shift.data(), map.mean.data(), map.invstd.data(),
                            map.weight.data(), use_batch, sum_dy.data(), sum_dy_xhat.data());
                    });
                });
                const Dtype dtype = xv_t.dtype();
                Tensor grad_w = gw ? tensor(sum_dy_xhat, {c}, kFloat64).to(dtype) : Tensor();
                Tensor grad_b = gb ? tensor(sum_dy, {c}, kFloat64).to(dtype) : Tensor();
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
                    const Dtype dtype = in[0].dtype();
                    const Tensor z = in[0] * tensor(map.scale, {1, c, 1, 1}, kFloat64).to(dtype) +
                                     tensor(map.shift, {1, c, 1, 1}, kFloat64).to(dtype);
                    const Tensor y = z.relu();
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
