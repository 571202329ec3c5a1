// Losses. Cross-entropy and NLL with class indices run the core's fused kernel
// (ops::class_index_loss); the other losses are compositions of differentiable tensor ops.
#include <lazynn/autograd.hpp>
#include <lazynn/nn/loss.hpp>
#include <lazynn/ops/loss.hpp>

#include <cmath>
#include <limits>

namespace lazynn::nn {

Reduction parse_reduction(const std::string& name) {
    if (name == "none") return Reduction::None;
    if (name == "mean") return Reduction::Mean;
    if (name == "sum") return Reduction::Sum;
    throw ValueError("reduction must be 'none', 'mean' or 'sum', got '" + name + "'");
}

const char* reduction_name(Reduction reduction) {
    switch (reduction) {
        case Reduction::None:
            return "none";
        case Reduction::Mean:
            return "mean";
        case Reduction::Sum:
            return "sum";
    }
    return "?";
}

namespace functional {
namespace {

Tensor reduce(const Tensor& loss, Reduction reduction) {
    switch (reduction) {
        case Reduction::None:
            return loss;
        case Reduction::Sum:
            return loss.sum();
        case Reduction::Mean:
            break;
    }
    return loss.mean();
}

void check_same_shape(const Tensor& input, const Tensor& target, const char* loss) {
    if (input.shape() != target.shape()) {
        throw ShapeError(std::string(loss) + ": input and target must have the same shape, got input " +
                         shape_to_list(input.shape()) + " and target " + shape_to_list(target.shape()));
    }
}

/// The core op's reduction for nn's.
ops::LossReduction core_reduction(Reduction reduction) {
    switch (reduction) {
        case Reduction::None:
            return ops::LossReduction::None;
        case Reduction::Sum:
            return ops::LossReduction::Sum;
        case Reduction::Mean:
            break;
    }
    return ops::LossReduction::Mean;
}

/// Moves the class dim last and flattens: [N, C, d...] -> [N*d..., C]; target [N, d...] -> [N*d...].
std::pair<Tensor, Tensor> flatten_classes(const Tensor& input, const Tensor& target, const char* op) {
    if (input.dim() < 1) throw ShapeError(std::string(op) + ": input must have at least 1 dimension");
    if (input.dim() == 1) return {input.unsqueeze(0), target.reshape({1})};
    Shape expected = input.shape();
    expected.erase(expected.begin() + 1);
    if (target.shape() != expected) {
        throw ShapeError(std::string(op) + ": expected target of shape " + shape_to_list(expected) +
                         " for input of shape " + shape_to_list(input.shape()) + ", got " +
                         shape_to_list(target.shape()));
    }
    if (input.dim() == 2) return {input, target};
    Shape perm{0};
    for (std::int64_t d = 2; d < input.dim(); ++d) perm.push_back(d);
    perm.push_back(1);
    return {input.permute(perm).reshape({-1, input.size(1)}), target.reshape({-1})};
}

Tensor unflatten_none(const Tensor& loss, const Tensor& input, Reduction reduction) {
    if (reduction != Reduction::None) return loss;
    if (input.dim() == 1) return loss.reshape({});
    Shape shape = input.shape();
    shape.erase(shape.begin() + 1);
    return loss.reshape(shape);
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check_same_shape(input, target, "mse_loss");
    return reduce((input - target).pow(2), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    check_same_shape(input, target, "l1_loss");
    return reduce((input - target).abs(), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
    check_same_shape(input, target, "smooth_l1_loss");
    if (beta < 0) throw ValueError("smooth_l1_loss: beta must be non-negative, got " + std::to_string(beta));
    const Tensor d = (input - target).abs();
    if (beta == 0) return reduce(d, reduction);
    return reduce(where(d < beta, d.pow(2) * (0.5 / beta), d - 0.5 * beta), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
    check_same_shape(input, target, "huber_loss");
    if (delta <= 0) throw ValueError("huber_loss: delta must be positive, got " + std::to_string(delta));
    const Tensor d = (input - target).abs();
    return reduce(where(d < delta, d.pow(2) * 0.5, (d - 0.5 * delta) * delta), reduction);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options) {
    if (options.label_smoothing() < 0 || options.label_smoothing() > 1) {
        throw ValueError("cross_entropy: label_smoothing must be between 0.0 and 1.0, got " +
                         std::to_string(options.label_smoothing()));
    }
    if (target.is_floating_point()) {
        // Class probabilities: -sum_c w_c t'_c log p_c, averaged over samples for 'mean'.
        check_same_shape(input, target, "cross_entropy");
        const std::int64_t classes = input.dim() == 1 ? input.size(0) : input.size(1);
        const std::int64_t class_dim = input.dim() == 1 ? 0 : 1;
        Tensor t = options.label_smoothing() > 0 ? target * (1.0 - options.label_smoothing()) +
                                                       options.label_smoothing() / static_cast<double>(classes)
                                                 : target;
        Tensor terms = input.log_softmax(class_dim) * t;
        if (options.weight().defined()) {
            Shape wshape(static_cast<std::size_t>(input.dim()), 1);
            wshape[static_cast<std::size_t>(class_dim)] = classes;
            terms = terms * options.weight().reshape(wshape);
        }
        const Tensor per_sample = -terms.sum({class_dim});
        return reduce(per_sample, options.reduction());
    }
    if (target.dtype() != kInt64) throw DtypeError("cross_entropy: class-index targets must be int64");
    auto [x, y] = flatten_classes(input, target, "cross_entropy");
    const Tensor loss =
        ops::class_index_loss(x, y, options.weight(), options.ignore_index(), core_reduction(options.reduction()),
                              options.label_smoothing(), true, "cross_entropy");
    return unflatten_none(loss, input, options.reduction());
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                Reduction reduction) {
    if (target.dtype() != kInt64) throw DtypeError("nll_loss: targets must be int64 class indices");
    auto [x, y] = flatten_classes(input, target, "nll_loss");
    const Tensor loss =
        ops::class_index_loss(x, y, weight, ignore_index, core_reduction(reduction), 0.0, false, "nll_loss");
    return unflatten_none(loss, input, reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
    check_same_shape(input, target, "binary_cross_entropy");
    const std::vector<double> v = input.detach().to_vector<double>();
    for (double e : v) {
        if (!(e >= 0.0 && e <= 1.0))
            throw ValueError("binary_cross_entropy: all elements of input should be between 0 and 1");
    }
    Tensor loss = -(target * input.log().clamp_min(-100.0) + (1.0 - target) * (1.0 - input).log().clamp_min(-100.0));
    if (weight.defined()) loss = loss * weight;
    return reduce(loss, reduction);
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight,
                                        const Tensor& pos_weight, Reduction reduction) {
    check_same_shape(input, target, "binary_cross_entropy_with_logits");
    // (1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x)), with log(1 + exp(-x)) as a stable softplus.
    const Tensor log_weight = pos_weight.defined() ? (pos_weight - 1.0) * target + 1.0 : Tensor();
    const Tensor sp = (-input).softplus();
    Tensor loss = (1.0 - target) * input + (log_weight.defined() ? log_weight * sp : sp);
    if (weight.defined()) loss = loss * weight;
    return reduce(loss, reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, KLDivReduction reduction, bool log_target) {
    check_same_shape(input, target, "kl_div");
    Tensor loss;
    if (log_target) {
        loss = target.exp() * (target - input);
    } else {
        const Tensor zero = zeros_like(target);
        loss = where(target > 0.0, target * target.log(), zero) - target * input;
    }
    switch (reduction) {
        case KLDivReduction::BatchMean:
            return input.dim() == 0 ? loss.sum() : loss.sum() / static_cast<double>(input.size(0));
        case KLDivReduction::None:
            return loss;
        case KLDivReduction::Sum:
            return reduce(loss, Reduction::Sum);
        case KLDivReduction::Mean:
            break;
    }
    return reduce(loss, Reduction::Mean);
}

Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                             Reduction reduction) {
    check_same_shape(input1, input2, "cosine_embedding_loss");
    constexpr double kEpsilon = 1e-12;
    const std::int64_t dim = input1.dim() - 1;
    const Tensor prod = (input1 * input2).sum({dim});
    const Tensor mag1 = (input1 * input1).sum({dim}) + kEpsilon;
    const Tensor mag2 = (input2 * input2).sum({dim}) + kEpsilon;
    const Tensor cos = prod / (mag1 * mag2).sqrt();
    const Tensor zero = zeros_like(cos);
    const Tensor loss =
        where(target == 1.0, 1.0 - cos, zero) + where(target == -1.0, (cos - margin).clamp_min(0.0), zero);
    return reduce(loss, reduction);
}

Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin,
                           Reduction reduction) {
    return reduce((-target * (input1 - input2) + margin).clamp_min(0.0), reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin,
                           double p, double eps, bool swap, Reduction reduction) {
    const std::int64_t dim = anchor.dim() - 1;
    auto distance = [&](const Tensor& a, const Tensor& b) {
        return (a - b + eps).abs().pow(p).sum({dim}).pow(1.0 / p);
    };
    const Tensor d_ap = distance(anchor, positive);
    Tensor d_an = distance(anchor, negative);
    if (swap) d_an = minimum(d_an, distance(positive, negative));
    return reduce((d_ap - d_an + margin).clamp_min(0.0), reduction);
}

}  // namespace functional
}  // namespace lazynn::nn
