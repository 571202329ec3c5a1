// Losses. Cross-entropy and NLL with class indices run the core's fused kernel
// (ops::class_index_loss); the other losses are compositions of differentiable tensor ops.
#include <lazynn/autocast.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/nn/loss.hpp>
#include <lazynn/ops/loss.hpp>

#include <cmath>
#include <limits>
#include <numbers>
#include <vector>

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

// The losses on PyTorch 1.13's CPU autocast float32 list take 16-bit operands in float32 under
// autocast (docs/mixed-precision.md); the composite ones (gaussian_nll_loss, the soft-margin
// multi-label and distance triplet losses) follow their inputs, as PyTorch's do.
Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active()) return mse_loss(fp32(input), fp32(target), reduction);
    check_same_shape(input, target, "mse_loss");
    return reduce((input - target).pow(2), reduction);
}

Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active()) return l1_loss(fp32(input), fp32(target), reduction);
    check_same_shape(input, target, "l1_loss");
    return reduce((input - target).abs(), reduction);
}

Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction, double beta) {
    if (autocast::Float32Region fp32; fp32.active()) return smooth_l1_loss(fp32(input), fp32(target), reduction, beta);
    check_same_shape(input, target, "smooth_l1_loss");
    if (beta < 0) throw ValueError("smooth_l1_loss: beta must be non-negative, got " + std::to_string(beta));
    const Tensor d = (input - target).abs();
    if (beta == 0) return reduce(d, reduction);
    // 0.5 d^2 / beta below beta, d - 0.5 beta above, written with m = min(d, beta) as
    // 0.5 m^2 / beta + (d - m): where() would send its untaken branch's gradient, 0 * inf = NaN
    // for an infinite d, into the sum; PyTorch's kernel gives an inf difference the gradient 1.
    const Tensor m = d.clamp_max(beta);
    return reduce(m * m * (0.5 / beta) + (d - m), reduction);
}

Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction, double delta) {
    if (autocast::Float32Region fp32; fp32.active()) return huber_loss(fp32(input), fp32(target), reduction, delta);
    check_same_shape(input, target, "huber_loss");
    if (delta <= 0) throw ValueError("huber_loss: delta must be positive, got " + std::to_string(delta));
    const Tensor d = (input - target).abs();
    // 0.5 d^2 below delta, delta (d - 0.5 delta) above, with m = min(d, delta) as in smooth_l1_loss.
    const Tensor m = d.clamp_max(delta);
    return reduce(m * m * 0.5 + (d - m) * delta, reduction);
}

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options) {
    if (autocast::Float32Region fp32; fp32.active()) return cross_entropy(fp32(input), fp32(target), options);
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
    if (autocast::Float32Region fp32; fp32.active())
        return nll_loss(fp32(input), target, fp32(weight), ignore_index, reduction);
    if (target.dtype() != kInt64) throw DtypeError("nll_loss: targets must be int64 class indices");
    auto [x, y] = flatten_classes(input, target, "nll_loss");
    const Tensor loss =
        ops::class_index_loss(x, y, weight, ignore_index, core_reduction(reduction), 0.0, false, "nll_loss");
    return unflatten_none(loss, input, reduction);
}

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active())
        return binary_cross_entropy(fp32(input), fp32(target), fp32(weight), reduction);
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
    if (autocast::Float32Region fp32; fp32.active())
        return binary_cross_entropy_with_logits(fp32(input), fp32(target), fp32(weight), fp32(pos_weight), reduction);
    check_same_shape(input, target, "binary_cross_entropy_with_logits");
    // (1 - t) x + (1 + (pw - 1) t) log(1 + exp(-x)), with log(1 + exp(-x)) as a stable softplus.
    const Tensor log_weight = pos_weight.defined() ? (pos_weight - 1.0) * target + 1.0 : Tensor();
    const Tensor sp = (-input).softplus();
    Tensor loss = (1.0 - target) * input + (log_weight.defined() ? log_weight * sp : sp);
    if (weight.defined()) loss = loss * weight;
    return reduce(loss, reduction);
}

Tensor kl_div(const Tensor& input, const Tensor& target, KLDivReduction reduction, bool log_target) {
    if (autocast::Float32Region fp32; fp32.active()) return kl_div(fp32(input), fp32(target), reduction, log_target);
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
    if (autocast::Float32Region fp32; fp32.active())
        return cosine_embedding_loss(fp32(input1), fp32(input2), fp32(target), margin, reduction);
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
    if (autocast::Float32Region fp32; fp32.active())
        return margin_ranking_loss(fp32(input1), fp32(input2), fp32(target), margin, reduction);
    return reduce((-target * (input1 - input2) + margin).clamp_min(0.0), reduction);
}

Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin,
                           double p, double eps, bool swap, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active())
        return triplet_margin_loss(fp32(anchor), fp32(positive), fp32(negative), margin, p, eps, swap, reduction);
    const std::int64_t dim = anchor.dim() - 1;
    auto distance = [&](const Tensor& a, const Tensor& b) {
        return (a - b + eps).abs().pow(p).sum({dim}).pow(1.0 / p);
    };
    const Tensor d_ap = distance(anchor, positive);
    Tensor d_an = distance(anchor, negative);
    if (swap) d_an = minimum(d_an, distance(positive, negative));
    return reduce((d_ap - d_an + margin).clamp_min(0.0), reduction);
}

Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, bool log_input, bool full, double eps,
                        Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active())
        return poisson_nll_loss(fp32(input), fp32(target), log_input, full, eps, reduction);
    Tensor loss = log_input ? input.exp() - target * input : input - target * (input + eps).log();
    if (full) {
        // Stirling's approximation of log(target!), only where it is meaningful (target > 1).
        const Tensor stirling = target * target.log() - target + (target * (2.0 * std::numbers::pi)).log() * 0.5;
        loss = loss + stirling.masked_fill(target <= 1.0, 0.0);
    }
    return reduce(loss, reduction);
}

Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var_in, bool full, double eps,
                         Reduction reduction) {
    Tensor var = var_in;
    if (var.shape() != input.shape()) {
        const Shape lead(input.shape().begin(), input.shape().end() - (input.dim() > 0 ? 1 : 0));
        const bool one_short = input.dim() > 0 && var.shape() == lead;
        const bool last_is_one = input.dim() > 0 && var.dim() == input.dim() && var.size(-1) == 1 &&
                                 Shape(var.shape().begin(), var.shape().end() - 1) == lead;
        if (one_short) {
            var = var.unsqueeze(-1);  // one variance per sample, broadcast over the last dim
        } else if (!last_is_one) {
            throw ValueError("gaussian_nll_loss: var is of incorrect size: expected " + shape_to_list(input.shape()) +
                             " (like input), " + shape_to_list(lead) + " or " + shape_to_list(lead) + " + [1], got " +
                             shape_to_list(var.shape()));
        }
    }
    {
        NoGradGuard no_grad;
        if ((var < 0.0).any().item<bool>()) throw ValueError("gaussian_nll_loss: var has negative entry/entries");
    }
    // PyTorch clamps a copy of var under no_grad: the value is max(var, eps), the gradient passes
    // as if unclamped.
    const Tensor raised = var.detach().clamp_min(eps) - var.detach();
    var = var + raised;
    Tensor loss = (var.log() + (input - target).pow(2) / var) * 0.5;
    if (full) loss = loss + 0.5 * std::log(2.0 * std::numbers::pi);
    return reduce(loss, reduction);
}

Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active())
        return hinge_embedding_loss(fp32(input), fp32(target), margin, reduction);
    // PyTorch's composition: the margin term wherever target != 1, the input wherever target != -1.
    const Tensor zero = zeros_like(input);
    const Tensor margin_term = where(target != 1.0, (margin - input).clamp_min(0.0), zero);
    const Tensor self_term = where(target != -1.0, input, zero);
    return reduce(margin_term + self_term, reduction);
}

namespace {

/// log(1 + exp(z)) for any z: max(z, 0) + log1p(exp(-|z|)).
Tensor softplus_exact(const Tensor& z) { return z.relu() + (-z.abs()).exp().log1p(); }

/// The shape checks shared by the two multi-class hinge losses: input [N, C] or [C] (C > 0).
void check_hinge_input(const Tensor& input, const char* op) {
    const bool ok = (input.dim() == 2 && input.size(1) != 0) || (input.dim() == 1 && input.size(0) != 0);
    if (!ok) {
        throw ShapeError(std::string(op) + ": expected a non-empty vector [C] or matrix [N, C], got input of shape " +
                         shape_to_list(input.shape()));
    }
    if (input.dtype() != kFloat32 && input.dtype() != kFloat64)
        throw DtypeError(std::string(op) + ": expected a floating-point input, got " + dtype_name(input.dtype()));
}

void check_class_indices(const Tensor& target, const char* op) {
    if (target.dtype() != kInt64)
        throw DtypeError(std::string(op) + ": expected int64 class indices as target, got " +
                         dtype_name(target.dtype()));
}

}  // namespace

Tensor soft_margin_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active()) return soft_margin_loss(fp32(input), fp32(target), reduction);
    return reduce(softplus_exact(-input * target), reduction);
}

Tensor multi_margin_loss(const Tensor& input, const Tensor& target, std::int64_t p, double margin, const Tensor& weight,
                         Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active())
        return multi_margin_loss(fp32(input), target, p, margin, fp32(weight), reduction);
    constexpr const char* op = "multi_margin_loss";
    if (p != 1 && p != 2)
        throw ValueError("multi_margin_loss: only p == 1 and p == 2 supported, got p = " + std::to_string(p));
    check_hinge_input(input, op);
    check_class_indices(target, op);
    const Tensor x = input.dim() == 1 ? input.unsqueeze(0) : input;
    const std::int64_t n = x.size(0), classes = x.size(1);
    if (target.dim() > 1 || target.numel() != n) {
        throw ShapeError("multi_margin_loss: inconsistent target size, expected " + std::to_string(n) + " but got " +
                         shape_to_list(target.shape()));
    }
    if (weight.defined() && (weight.dim() > 1 || weight.numel() != classes)) {
        throw ShapeError("multi_margin_loss: inconsistent weight size, expected " + std::to_string(classes) +
                         " but got " + shape_to_list(weight.shape()));
    }
    const Tensor y = target.reshape({n, 1});
    {
        NoGradGuard no_grad;
        if (n > 0 && ((y < 0) | (y >= classes)).any().item<bool>()) {
            throw IndexError("multi_margin_loss: target out of range: every class index must be in [0, " +
                             std::to_string(classes) + ")");
        }
    }
    // z[n, j] = margin - x[n, y_n] + x[n, j], counted where positive and j != y_n.
    const Tensor z = margin - x.gather(1, y) + x;
    const Tensor counted = (z > 0.0) & (arange(static_cast<double>(classes), kInt64).reshape({1, classes}) != y);
    // Masked before squaring and weighting: PyTorch's kernel skips a z that is not > 0 (NaN
    // included), so its loss and gradient are 0 even where z is NaN or the weight inf; a product
    // formed first would give 0 * NaN or 0 * inf = NaN, in the value or its gradient.
    const Tensor kept = where(counted, z, zeros_like(z));
    Tensor terms = p == 2 ? kept * kept : kept;
    if (weight.defined()) {
        const Tensor sample_weight =
            weight.reshape({classes}).index_select(0, y.reshape({n})).reshape({n, 1}).expand({n, classes});
        terms = terms * where(counted, sample_weight, zeros_like(sample_weight));
    }
    Tensor loss = terms.sum({1}) / static_cast<double>(classes);
    if (reduction == Reduction::None && target.dim() == 0) loss = loss.reshape({});
    return reduce(loss, reduction);
}

Tensor multilabel_margin_loss(const Tensor& input, const Tensor& target, Reduction reduction) {
    if (autocast::Float32Region fp32; fp32.active()) return multilabel_margin_loss(fp32(input), target, reduction);
    constexpr const char* op = "multilabel_margin_loss";
    check_hinge_input(input, op);
    check_class_indices(target, op);
    if (target.shape() != input.shape()) {
        throw ShapeError("multilabel_margin_loss: expected target shaped like input " + shape_to_list(input.shape()) +
                         ", got " + shape_to_list(target.shape()));
    }
    const Tensor x = input.dim() == 1 ? input.unsqueeze(0) : input;
    const std::int64_t n = x.size(0), classes = x.size(1);
    // Each row's classes are its target entries before the first -1: read them once on the host.
    const std::vector<std::int64_t> labels = target.to_vector<std::int64_t>();
    const std::int64_t* y = labels.data();
    std::vector<std::int64_t> count(static_cast<std::size_t>(n), 0);
    std::vector<double> is_target(static_cast<std::size_t>(n * classes), 0.0);
    std::int64_t longest = 0;
    for (std::int64_t r = 0; r < n; ++r) {
        std::int64_t k = 0;
        for (; k < classes && y[r * classes + k] >= 0; ++k) {
            const std::int64_t c = y[r * classes + k];
            if (c >= classes) {
                throw IndexError("multilabel_margin_loss: target index " + std::to_string(c) + " is out of range for " +
                                 std::to_string(classes) + " classes (row " + std::to_string(r) + ")");
            }
            is_target[static_cast<std::size_t>(r * classes + c)] = 1.0;
        }
        count[static_cast<std::size_t>(r)] = k;
        longest = std::max(longest, k);
    }
    const Tensor others = tensor(is_target, {n, classes}) == 0.0;
    // Position k of every row at once: max(0, 1 - x[y_k] + x[i]) over the non-target classes i.
    Tensor total = zeros({n}, x.dtype());
    for (std::int64_t k = 0; k < longest; ++k) {
        std::vector<std::int64_t> column(static_cast<std::size_t>(n), 0);
        std::vector<double> valid(static_cast<std::size_t>(n), 0.0);
        for (std::int64_t r = 0; r < n; ++r) {
            if (k < count[static_cast<std::size_t>(r)]) {
                column[static_cast<std::size_t>(r)] = y[r * classes + k];
                valid[static_cast<std::size_t>(r)] = 1.0;
            }
        }
        const Tensor index = tensor(column, {n, 1});
        const Tensor z = 1.0 - x.gather(1, index) + x;
        const Tensor counted = (z > 0.0) & others & (tensor(valid, {n, 1}) != 0.0);
        total = total + where(counted, z, zeros_like(z)).sum({1});
    }
    Tensor loss = total / static_cast<double>(classes);
    if (input.dim() == 1) loss = loss.reshape({});
    return reduce(loss, reduction);
}

Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target, const Tensor& weight,
                                   Reduction reduction) {
    // -(t * log(sigmoid(x)) + (1 - t) * log(sigmoid(-x))) = t * softplus(-x) + (1 - t) * softplus(x).
    Tensor loss = target * softplus_exact(-input) + (1.0 - target) * softplus_exact(input);
    if (weight.defined()) loss = loss * weight;
    const std::int64_t class_dim = input.dim() - 1;
    loss = loss.sum({class_dim}) / static_cast<double>(input.size(class_dim));
    return reduce(loss, reduction);
}

Tensor triplet_margin_with_distance_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                                         const DistanceFunction& distance_function, double margin, bool swap,
                                         Reduction reduction) {
    if (anchor.dim() != positive.dim() || positive.dim() != negative.dim()) {
        throw ShapeError(
            "triplet_margin_with_distance_loss: The anchor, positive, and negative tensors are expected to have the "
            "same number of dimensions, but got: anchor " +
            std::to_string(anchor.dim()) + "D, positive " + std::to_string(positive.dim()) + "D, and negative " +
            std::to_string(negative.dim()) + "D inputs");
    }
    const DistanceFunction distance = distance_function ? distance_function : [](const Tensor& a, const Tensor& b) {
        return pairwise_distance(a, b);
    };
    const Tensor d_ap = distance(anchor, positive);
    Tensor d_an = distance(anchor, negative);
    if (swap) d_an = minimum(d_an, distance(positive, negative));
    return reduce((d_ap - d_an + margin).clamp_min(0.0), reduction);
}

}  // namespace functional
}  // namespace lazynn::nn

namespace lazynn::nn {

MultiMarginLoss::MultiMarginLoss(MultiMarginLossOptions options) : options_(std::move(options)) {
    set_name("MultiMarginLoss");
    if (options_.p() != 1 && options_.p() != 2)
        throw ValueError("MultiMarginLoss: only p == 1 and p == 2 supported, got p = " + std::to_string(options_.p()));
}

TripletMarginWithDistanceLoss::TripletMarginWithDistanceLoss(TripletMarginWithDistanceLossOptions options)
    : options_(std::move(options)) {
    set_name("TripletMarginWithDistanceLoss");
    // PyTorch holds its default distance as a child module (and prints it); so does lazynn.
    if (!options_.distance_function()) register_module("distance_function", PairwiseDistance());
}

Tensor TripletMarginWithDistanceLoss::operator()(const Tensor& anchor, const Tensor& positive, const Tensor& negative) {
    return call_with_hooks({anchor, positive, negative}, [&](const std::vector<Tensor>& in) {
        return functional::triplet_margin_with_distance_loss(in[0], in[1], in[2], options_.distance_function(),
                                                             options_.margin(), options_.swap(), options_.reduction());
    });
}

}  // namespace lazynn::nn
