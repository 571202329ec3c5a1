// Cross-entropy and negative log-likelihood over class indices as one fused kernel: log-sum-exp,
// weighted NLL and label smoothing in a single pass, and the matching backward (also in recording ops,
// for create_graph).
#include "autograd/function_node.hpp"
#include "tensor_impl.hpp"

#include <lazynn/error.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/ops/loss.hpp>

#include <cmath>
#include <limits>

namespace lazynn::ops {
namespace {

using autograd::detail::BackwardInputs;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

}  // namespace

Tensor class_index_loss(const Tensor& input2d, const Tensor& target1d, const Tensor& weight, std::int64_t ignore_index,
                        LossReduction reduction, double smoothing, bool from_logits, const char* op) {
    if (is_float16(input2d.dtype())) {
        return lazynn::detail::through_float32(input2d, [&](const Tensor& x) {
            return class_index_loss(x, target1d, weight, ignore_index, reduction, smoothing, from_logits, op);
        });
    }
    const Tensor x = lazynn::detail::contiguous_data(input2d);
    const Tensor y = lazynn::detail::contiguous_data(target1d);
    const std::int64_t m = x.size(0), c = x.size(1);
    const Dtype dtype = x.dtype();
    const std::int64_t* labels = y.impl().data<std::int64_t>();
    for (std::int64_t i = 0; i < m; ++i) {
        if (labels[i] != ignore_index && (labels[i] < 0 || labels[i] >= c)) {
            throw IndexError(std::string(op) + ": target " + std::to_string(labels[i]) + " is out of bounds for " +
                             std::to_string(c) + " classes (sample " + std::to_string(i) + ")");
        }
    }
    std::vector<double> w(static_cast<std::size_t>(c), 1.0);
    if (weight.defined()) {
        if (weight.dim() != 1 || weight.size(0) != c) {
            throw ShapeError(std::string(op) + ": weight must have shape [" + std::to_string(c) + "], got " +
                             shape_to_list(weight.shape()));
        }
        w = weight.to_vector<double>();
    }
    double weight_total = 0;
    for (double v : w) weight_total += v;

    // Per-sample loss and the normaliser for 'mean' (sum of target weights over kept samples).
    std::vector<double> per_sample(static_cast<std::size_t>(m), 0.0);
    Tensor probs = lazynn::detail::empty_tensor({from_logits ? m : 0, c}, dtype);
    double denominator = 0;
    visit_floating(dtype, op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = x.impl().data<T>();
        T* pr = probs.impl().data<T>();
        for (std::int64_t i = 0; i < m; ++i) {
            if (labels[i] == ignore_index) continue;
            const T* row = in + i * c;
            const auto yi = static_cast<std::size_t>(labels[i]);
            double lse = 0;
            if (from_logits) {
                double mx = -std::numeric_limits<double>::infinity();
                for (std::int64_t k = 0; k < c; ++k) mx = std::max<double>(mx, row[k]);
                double sum = 0;
                for (std::int64_t k = 0; k < c; ++k) sum += std::exp(row[k] - mx);
                lse = mx + std::log(sum);
                for (std::int64_t k = 0; k < c; ++k) pr[i * c + k] = static_cast<T>(std::exp(row[k] - lse));
            }
            // log p_k = row[k] - lse (logits) or row[k] (log-probabilities)
            double loss = (1.0 - smoothing) * w[yi] * (lse - row[yi]);
            if (smoothing > 0) {
                double smooth = 0;
                for (std::int64_t k = 0; k < c; ++k) smooth += w[static_cast<std::size_t>(k)] * (lse - row[k]);
                loss += smoothing / static_cast<double>(c) * smooth;
            }
            per_sample[static_cast<std::size_t>(i)] = loss;
            denominator += w[yi];
        }
    });

    Tensor out;
    if (reduction == LossReduction::None) {
        out = tensor(per_sample, {m}, kFloat64).to(dtype);
    } else {
        double total = 0;
        for (double v : per_sample) total += v;
        if (reduction == LossReduction::Mean)
            total = denominator > 0 ? total / denominator : std::numeric_limits<double>::quiet_NaN();
        out = scalar_tensor(total, dtype);
    }

    if (needs_grad({&input2d})) {
        record(
            out, "NllLossBackward0", {input2d},
            [sp = SavedTensor(probs), y, w, ignore_index, reduction, smoothing, from_logits, denominator, weight_total,
             m, c, dtype](const Tensor& g) {
                const Tensor p = sp.unpack();
                const std::vector<double> go = g.to_vector<double>();
                Tensor grad = zeros({m, c}, dtype);
                const std::int64_t* target_labels = y.impl().data<std::int64_t>();
                visit_floating(dtype, "cross_entropy_backward", [&](auto tag) {
                    using T = typename decltype(tag)::type;
                    T* gr = grad.impl().data<T>();
                    const T* pr = from_logits ? p.impl().data<T>() : nullptr;
                    for (std::int64_t i = 0; i < m; ++i) {
                        if (target_labels[i] == ignore_index) continue;
                        double scale = reduction == LossReduction::None ? go[static_cast<std::size_t>(i)] : go[0];
                        if (reduction == LossReduction::Mean) scale /= denominator;
                        const auto yi = static_cast<std::size_t>(target_labels[i]);
                        // d/dx_k of (1-s) w_y (lse - x_y) + s/C sum_c w_c (lse - x_c)
                        const double target_coef = (1.0 - smoothing) * w[yi];
                        const double prob_coef = target_coef + smoothing / static_cast<double>(c) * weight_total;
                        if (!from_logits && smoothing == 0) {
                            // nll_loss: only the target's entry. The others stay exactly 0, as in
                            // PyTorch, also when the scale is NaN or inf (a NaN or inf class weight).
                            gr[i * c + static_cast<std::int64_t>(yi)] = static_cast<T>(scale * -target_coef);
                            continue;
                        }
                        for (std::int64_t k = 0; k < c; ++k) {
                            double d = -smoothing / static_cast<double>(c) * w[static_cast<std::size_t>(k)];
                            if (from_logits) d += prob_coef * pr[i * c + k];
                            if (static_cast<std::size_t>(k) == yi) d -= target_coef;
                            gr[i * c + k] = static_cast<T>(scale * d);
                        }
                    }
                });
                return std::vector<Tensor>{grad};
            },
            true,
            [y, w, ignore_index, reduction, smoothing, from_logits, denominator, weight_total, m, c, dtype](
                const Tensor& g, const BackwardInputs& in) {
                // The formula above in recording ops: per kept sample i, scale_i * (constant_ik +
                // prob_coef_i * softmax(x)_ik). Only softmax depends on the input; targets, class weights
                // and smoothing are constants.
                const std::int64_t* target_labels = y.impl().data<std::int64_t>();
                std::vector<double> constant(static_cast<std::size_t>(m * c), 0.0);
                std::vector<double> prob_coef(static_cast<std::size_t>(m), 0.0), kept(static_cast<std::size_t>(m), 0.0);
                for (std::int64_t i = 0; i < m; ++i) {
                    if (target_labels[i] == ignore_index) continue;
                    const auto yi = static_cast<std::size_t>(target_labels[i]);
                    const double target_coef = (1.0 - smoothing) * w[yi];
                    const auto row = static_cast<std::size_t>(i * c);
                    for (std::int64_t k = 0; k < c; ++k)
                        constant[row + static_cast<std::size_t>(k)] =
                            -smoothing / static_cast<double>(c) * w[static_cast<std::size_t>(k)];
                    constant[row + yi] -= target_coef;
                    prob_coef[static_cast<std::size_t>(i)] =
                        target_coef + smoothing / static_cast<double>(c) * weight_total;
                    kept[static_cast<std::size_t>(i)] = 1.0;
                }
                Tensor d = tensor(constant, {m, c}, kFloat64).to(dtype);
                if (from_logits) d = d + tensor(prob_coef, {m, 1}, kFloat64).to(dtype) * in[0].softmax(1);
                Tensor scale = reduction == LossReduction::None ? g.reshape({m, 1}) : g.reshape({1, 1});
                scale = scale * tensor(kept, {m, 1}, kFloat64).to(dtype);
                if (reduction == LossReduction::Mean) scale = scale / denominator;
                if (!from_logits && smoothing == 0) {  // nll_loss: zeros off the targets, whatever the scale
                    return std::vector<Tensor>{where(d != 0.0, scale * d, zeros_like(d))};
                }
                return std::vector<Tensor>{scale * d};
            });
    }
    return out;
}

}  // namespace lazynn::ops
