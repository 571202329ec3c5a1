// Batch normalisation over [N, C, S] as one fused kernel (statistics, transform, optional ReLU) with
// its backward (also in recording ops, for create_graph); BatchNorm and InstanceNorm (lazynn::nn)
// both run on it.
#include "autograd/function_node.hpp"
#include "ops/norm_kernels.hpp"
#include "parallel.hpp"
#include "tensor_impl.hpp"

#include <lazynn/error.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/ops/normalization.hpp>

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
    namespace kernels = detail;
    // The kernels read one value per channel from each of these: a wrong length would read past
    // the end or silently drop channels (PyTorch's messages).
    const std::pair<const char*, const Tensor*> per_channel[] = {
        {"weight", &weight}, {"bias", &bias}, {"running_mean", &mean_in}, {"running_var", &var_in}};
    for (const auto& [what, t] : per_channel) {
        if (t->defined() && t->numel() != input.size(1)) {
            throw RuntimeError(std::string(what) + " should contain " + std::to_string(input.size(1)) +
                               " elements not " + std::to_string(t->numel()));
        }
    }
    const Tensor x = lazynn::detail::contiguous_data(input);
    const std::int64_t n = input.size(0), c = input.size(1), s = input.numel() / std::max<std::int64_t>(n * c, 1);
    const auto channels = static_cast<std::size_t>(c);
    std::vector<double> mean(channels), invstd(channels), scale(channels), shift(channels);
    const std::vector<double> w = weight.defined() ? weight.to_vector<double>() : std::vector<double>(channels, 1.0);
    const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(channels, 0.0);
    const std::int64_t grain = channel_grain(n * s);
    Tensor out = lazynn::detail::empty_tensor(input.shape(), input.dtype());
    visit_floating(input.dtype(), "batch_norm", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xv = x.impl().data<T>();
        T* o = out.impl().data<T>();
        std::vector<double> var;
        if (use_batch) {
            batch_mean.assign(channels, 0.0);
            batch_var.assign(channels, 0.0);
            lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                kernels::batch_norm_statistics(xv, n, c, s, first, end, batch_mean.data(), batch_var.data());
            });
            mean = batch_mean;
            var = batch_var;
        } else {
            mean = mean_in.to_vector<double>();
            var = var_in.to_vector<double>();
        }
        for (std::size_t ch = 0; ch < channels; ++ch) {
            invstd[ch] = 1.0 / std::sqrt(var[ch] + eps);
            scale[ch] = w[ch] * invstd[ch];
            shift[ch] = b[ch] - mean[ch] * scale[ch];
        }
        lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
            kernels::batch_norm_transform(xv, o, n, c, s, first, end, scale.data(), shift.data(), relu);
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(),
                   gb = bias.defined() && bias.requires_grad();
        // With the ReLU fused, the output is saved for its mask (as ReLU's own backward saves it),
        // and the node carries the name PyTorch shows for the output's grad_fn.
        record(
            out, relu ? "ReluBackward0" : "NativeBatchNormBackward0", {input, weight, bias},
            [sx = SavedTensor(x), sy = SavedTensor(relu ? out : Tensor()), relu, mean, invstd, w, use_batch, n, c, s,
             grain, gx, gw, gb](const Tensor& g_in) {
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
            [sy = SavedTensor(relu ? out : Tensor()), relu, mean, invstd, use_batch, n, c, s, eps](
                const Tensor& g_given, const BackwardInputs& in) {
                // The same gradients in recording ops (create_graph). Shapes: everything as [n, c, s].
                const Tensor xs = in[0].reshape({n, c, s});
                Tensor g = g_given.reshape({n, c, s});
                if (relu) g = g * (sy.unpack().reshape({n, c, s}) > 0.0).to(g.dtype());  // a constant mask
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
                                           in.needs(1) ? (g * xhat).sum({0, 2}) : Tensor(),
                                           in.needs(2) ? g.sum({0, 2}) : Tensor()};
            });
    }
    return out;
}

}  // namespace lazynn::ops
