#pragma once
// Loss functions with PyTorch's semantics: functional forms and module wrappers.
// Every loss takes `reduction` (None keeps per-element losses, Mean and Sum reduce); each module
// takes an options struct written with LAZYNN_ARG (getter + fluent setter, docs/design.md "Options").
//
// Example:
//     nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().label_smoothing(0.1).ignore_index(0));
//     Tensor loss = criterion(logits, labels);            // logits [N, C], labels int64 [N]
//     Tensor same = nn::functional::cross_entropy(logits, labels, nn::CrossEntropyLossOptions().label_smoothing(0.1).ignore_index(0));

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/distance.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace lazynn::nn {

/// How a loss reduces its per-element values.
enum class Reduction { None, Mean, Sum };
/// KLDivLoss's reductions: BatchMean divides the sum by the batch size (the mathematically
/// correct KL divergence); Mean averages over every element, as PyTorch's default does.
enum class KLDivReduction { None, BatchMean, Sum, Mean };
/// "none", "mean", "sum" (PyTorch's strings, for reading configurations); ValueError otherwise.
Reduction parse_reduction(const std::string& name);
/// PyTorch's string of a reduction ("none", "mean", "sum").
const char* reduction_name(Reduction reduction);

struct CrossEntropyLossOptions {
    /// [C] class weights; undefined means all ones.
    LAZYNN_ARG(Tensor, weight);
    /// Targets equal to this class index contribute nothing (and do not count in Mean).
    LAZYNN_ARG(std::int64_t, ignore_index) = -100;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
    /// In [0, 1]: the target becomes (1 - s) * one_hot + s / C.
    LAZYNN_ARG(double, label_smoothing) = 0.0;
};

namespace functional {

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean,
                      double beta = 1.0);
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean, double delta = 1.0);

/// The functional form's name for CrossEntropyLoss's options.
using CrossEntropyOptions = CrossEntropyLossOptions;
/// input [N, C] or [N, C, d1, ...] (logits); target int64 class indices [N] / [N, d1, ...] or
/// float probabilities shaped like input. Log-softmax and NLL are fused into one kernel for
/// class indices.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyLossOptions& options = {});
/// input holds log-probabilities; same shapes and options as cross_entropy (no smoothing).
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                std::int64_t ignore_index = -100, Reduction reduction = Reduction::Mean);
/// input in (0, 1); the logs are clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::Mean);
/// input holds log-probabilities; target probabilities (or log-probabilities with log_target).
/// `batchmean` divides the sum by the batch size, which is the mathematically correct KL.
Tensor kl_div(const Tensor& input, const Tensor& target, KLDivReduction reduction = KLDivReduction::Mean,
              bool log_target = false);
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                             Reduction reduction = Reduction::Mean);
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                           Reduction reduction = Reduction::Mean);
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin = 1.0,
                           double p = 2.0, double eps = 1e-6, bool swap = false, Reduction reduction = Reduction::Mean);

/// With log_input, exp(input) - target * input (input holds log-rates); otherwise
/// input - target * log(input + eps). `full` adds Stirling's term for targets above 1.
Tensor poisson_nll_loss(const Tensor& input, const Tensor& target, bool log_input = true, bool full = false,
                        double eps = 1e-8, Reduction reduction = Reduction::Mean);
/// 0.5 * (log(var) + (input - target)^2 / var) (+ 0.5 * log(2 pi) with `full`). var is shaped like
/// input, or like input without its last dim, or with a last dim of 1; values below eps are
/// raised to eps (the gradient passes unchanged, as in PyTorch). ValueError for negative var.
Tensor gaussian_nll_loss(const Tensor& input, const Tensor& target, const Tensor& var, bool full = false,
                         double eps = 1e-6, Reduction reduction = Reduction::Mean);
/// input where target is 1, max(0, margin - input) where target is -1 (PyTorch adds both terms
/// for any other target value).
Tensor hinge_embedding_loss(const Tensor& input, const Tensor& target, double margin = 1.0,
                            Reduction reduction = Reduction::Mean);
/// log(1 + exp(-target * input)), computed without overflow.
Tensor soft_margin_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// Multi-class hinge: for input [N, C] (or [C]) and int64 class indices [N],
/// sum over j != y of weight[y] * max(0, margin - x[y] + x[j])^p, divided by C. p is 1 or 2.
Tensor multi_margin_loss(const Tensor& input, const Tensor& target, std::int64_t p = 1, double margin = 1.0,
                         const Tensor& weight = Tensor(), Reduction reduction = Reduction::Mean);
/// Multi-label hinge: target [N, C] (or [C]) int64 holds each row's classes, ended by the first -1;
/// sum over those classes y and every class i not among them of max(0, 1 - (x[y] - x[i])), over C.
Tensor multilabel_margin_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
/// Per-class binary cross-entropy with logits, averaged over the C classes of each sample:
/// input, target [N, C]; weight [C] rescales the classes.
Tensor multilabel_soft_margin_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                   Reduction reduction = Reduction::Mean);
/// A distance between two batches: (x1, x2) -> [N] (TripletMarginWithDistanceLoss's function).
using DistanceFunction = std::function<Tensor(const Tensor&, const Tensor&)>;
/// max(d(a, p) - d(a, n) + margin, 0) with any distance (pairwise_distance when empty); `swap`
/// uses min(d(a, n), d(p, n)).
Tensor triplet_margin_with_distance_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative,
                                         const DistanceFunction& distance_function = {}, double margin = 1.0,
                                         bool swap = false, Reduction reduction = Reduction::Mean);

/// Connectionist temporal classification (Graves et al., 2006): the negative log-likelihood of each
/// target sequence summed over every alignment of it (labels with blanks and repeats) to the
/// input's time steps, by the alpha/beta recursions in log space. 'mean' divides each loss by its
/// target length (at least 1) and averages over the batch, as PyTorch does; an impossible alignment
/// (an input too short) gives inf and NaN gradients, or 0 and no gradient with `zero_infinity`.
/// The gradient with respect to log_probs is the true one (PyTorch's adds exp(log_probs) times the
/// output gradient, which cancels behind log_softmax; docs/layers.md).
///   requires: int64 targets in [0, C) and never `blank`, 0 <= input_lengths <= T,
///             target_lengths >= 0 and within the padded row (ValueError, IndexError, ShapeError or
///             DtypeError naming the sample otherwise: PyTorch's CPU kernel reads out of bounds).
/// Shapes: log_probs [T, N, C] (or [T, C]), targets [N, S] padded or [sum(target_lengths)]
///         (or [S]), input_lengths and target_lengths int64 [N] (or 0-dim) -> scalar, or [N] with
///         Reduction::None
Tensor ctc_loss(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                const Tensor& target_lengths, std::int64_t blank = 0, Reduction reduction = Reduction::Mean,
                bool zero_infinity = false);

}  // namespace functional

/// A two-input loss module: forward(input, target). Not usable inside Sequential (two inputs).
///
/// Example:
///     struct MAELoss : nn::Loss {   // a custom loss: override the two-input forward
///         Tensor forward(const Tensor& input, const Tensor& target) override { return (input - target).abs().mean(); }
///     };
///     MAELoss criterion;
///     Tensor loss = criterion(prediction, target);
class Loss : public Module {
public:
    Tensor operator()(const Tensor& input, const Tensor& target) {
        return call_with_hooks({input, target}, [&](const std::vector<Tensor>& in) { return forward(in[0], in[1]); });
    }
    virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
    using Module::forward;
};

struct MSELossOptions {
    MSELossOptions(Reduction reduction = Reduction::Mean)
        : reduction_(reduction) {}  // NOLINT(google-explicit-constructor): MSELoss(Reduction::Sum)
    LAZYNN_ARG(Reduction, reduction);
};

/// Mean squared error, (input - target)^2 reduced.
///
/// Example:
///     nn::MSELoss criterion;                       // or nn::MSELoss(nn::Reduction::Sum)
///     Tensor loss = criterion(prediction, target);
class MSELoss : public Loss {
    LAZYNN_MODULE(MSELoss)
public:
    explicit MSELoss(MSELossOptions options = {}) : options_(options) { set_name("MSELoss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::mse_loss(input, target, options_.reduction());
    }
    const MSELossOptions& options() const { return options_; }

private:
    MSELossOptions options_;
};

struct L1LossOptions {
    L1LossOptions(Reduction reduction = Reduction::Mean)
        : reduction_(reduction) {}  // NOLINT(google-explicit-constructor): L1Loss(Reduction::Sum)
    LAZYNN_ARG(Reduction, reduction);
};

/// Mean absolute error, |input - target| reduced.
///
/// Example:
///     nn::L1Loss criterion(nn::L1LossOptions().reduction(nn::Reduction::Sum));
class L1Loss : public Loss {
    LAZYNN_MODULE(L1Loss)
public:
    explicit L1Loss(L1LossOptions options = {}) : options_(options) { set_name("L1Loss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::l1_loss(input, target, options_.reduction());
    }
    const L1LossOptions& options() const { return options_; }

private:
    L1LossOptions options_;
};

struct SmoothL1LossOptions {
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
    /// Below |input - target| < beta the loss is quadratic (0.5 d^2 / beta), above linear.
    LAZYNN_ARG(double, beta) = 1.0;
};

/// Smooth L1 (quadratic near zero, linear beyond beta).
///
/// Example:
///     nn::SmoothL1Loss criterion(nn::SmoothL1LossOptions().beta(0.5));
class SmoothL1Loss : public Loss {
    LAZYNN_MODULE(SmoothL1Loss)
public:
    explicit SmoothL1Loss(SmoothL1LossOptions options = {}) : options_(options) { set_name("SmoothL1Loss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::smooth_l1_loss(input, target, options_.reduction(), options_.beta());
    }
    const SmoothL1LossOptions& options() const { return options_; }

private:
    SmoothL1LossOptions options_;
};

struct HuberLossOptions {
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
    /// Below |input - target| < delta the loss is 0.5 d^2, above delta * (|d| - 0.5 delta).
    LAZYNN_ARG(double, delta) = 1.0;
};

/// Huber loss (SmoothL1 scaled by delta).
///
/// Example:
///     nn::HuberLoss criterion(nn::HuberLossOptions().delta(1.5));
class HuberLoss : public Loss {
    LAZYNN_MODULE(HuberLoss)
public:
    explicit HuberLoss(HuberLossOptions options = {}) : options_(options) { set_name("HuberLoss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::huber_loss(input, target, options_.reduction(), options_.delta());
    }
    const HuberLossOptions& options() const { return options_; }

private:
    HuberLossOptions options_;
};

/// Log-softmax followed by negative log-likelihood, over class indices or class probabilities.
///
/// Example:
///     nn::CrossEntropyLoss criterion(nn::CrossEntropyLossOptions().weight(class_weights).reduction(nn::Reduction::Sum));
class CrossEntropyLoss : public Loss {
    LAZYNN_MODULE(CrossEntropyLoss)
public:
    explicit CrossEntropyLoss(CrossEntropyLossOptions options = {}) : options_(std::move(options)) {
        set_name("CrossEntropyLoss");
    }
    /// Shapes: input [N, C] or [N, C, d*], target [N] or [N, d*] (int64) or like input (probabilities)
    ///         -> scalar, or [N, d*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::cross_entropy(input, target, options_);
    }
    const CrossEntropyLossOptions& options() const { return options_; }

private:
    CrossEntropyLossOptions options_;
};

struct NLLLossOptions {
    /// [C] class weights; undefined means all ones.
    LAZYNN_ARG(Tensor, weight);
    LAZYNN_ARG(std::int64_t, ignore_index) = -100;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Negative log-likelihood of log-probabilities (pair it with LogSoftmax).
///
/// Example:
///     nn::NLLLoss criterion(nn::NLLLossOptions().ignore_index(0));
///     Tensor loss = criterion(log_probs, labels);   // log_probs [N, C], labels int64 [N]
class NLLLoss : public Loss {
    LAZYNN_MODULE(NLLLoss)
public:
    explicit NLLLoss(NLLLossOptions options = {}) : options_(std::move(options)) { set_name("NLLLoss"); }
    /// Shapes: input [N, C] or [N, C, d*] (log-probabilities), target [N] or [N, d*] -> scalar, or [N, d*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::nll_loss(input, target, options_.weight(), options_.ignore_index(), options_.reduction());
    }
    const NLLLossOptions& options() const { return options_; }

private:
    NLLLossOptions options_;
};

struct BCELossOptions {
    /// Per-element weights broadcast against the input; undefined means all ones.
    LAZYNN_ARG(Tensor, weight);
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Binary cross entropy of probabilities in (0, 1) (logs clamped at -100, as in PyTorch).
///
/// Example:
///     nn::BCELoss criterion;
///     Tensor loss = criterion(probabilities.sigmoid(), targets);
class BCELoss : public Loss {
    LAZYNN_MODULE(BCELoss)
public:
    explicit BCELoss(BCELossOptions options = {}) : options_(std::move(options)) { set_name("BCELoss"); }
    /// Shapes: input [*] in (0, 1), target [*] -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::binary_cross_entropy(input, target, options_.weight(), options_.reduction());
    }
    const BCELossOptions& options() const { return options_; }

private:
    BCELossOptions options_;
};

struct BCEWithLogitsLossOptions {
    /// Per-element weights broadcast against the input; undefined means all ones.
    LAZYNN_ARG(Tensor, weight);
    /// Weights of the positive term, one per class (last dim); undefined means all ones.
    LAZYNN_ARG(Tensor, pos_weight);
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Sigmoid and binary cross entropy in one stable expression.
///
/// Example:
///     nn::BCEWithLogitsLoss criterion(nn::BCEWithLogitsLossOptions().pos_weight(full({3}, 2.0)));
class BCEWithLogitsLoss : public Loss {
    LAZYNN_MODULE(BCEWithLogitsLoss)
public:
    explicit BCEWithLogitsLoss(BCEWithLogitsLossOptions options = {}) : options_(std::move(options)) {
        set_name("BCEWithLogitsLoss");
    }
    /// Shapes: input [*] (logits), target [*] -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::binary_cross_entropy_with_logits(input, target, options_.weight(), options_.pos_weight(),
                                                            options_.reduction());
    }
    const BCEWithLogitsLossOptions& options() const { return options_; }

private:
    BCEWithLogitsLossOptions options_;
};

struct KLDivLossOptions {
    LAZYNN_ARG(KLDivReduction, reduction) = KLDivReduction::Mean;
    /// The target holds log-probabilities.
    LAZYNN_ARG(bool, log_target) = false;
};

/// Kullback-Leibler divergence of log-probabilities from a target distribution.
///
/// Example:
///     nn::KLDivLoss criterion(nn::KLDivLossOptions().reduction(nn::KLDivReduction::BatchMean));
///     Tensor loss = criterion(logits.log_softmax(1), target_probabilities);
class KLDivLoss : public Loss {
    LAZYNN_MODULE(KLDivLoss)
public:
    explicit KLDivLoss(KLDivLossOptions options = {}) : options_(options) { set_name("KLDivLoss"); }
    /// Shapes: input [*] (log-probabilities), target [*] -> scalar, or [*] with KLDivReduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::kl_div(input, target, options_.reduction(), options_.log_target());
    }
    const KLDivLossOptions& options() const { return options_; }

private:
    KLDivLossOptions options_;
};

struct TripletMarginLossOptions {
    LAZYNN_ARG(double, margin) = 1.0;
    /// The norm of the pairwise distance.
    LAZYNN_ARG(double, p) = 2.0;
    LAZYNN_ARG(double, eps) = 1e-6;
    /// Uses the positive-negative distance when it is smaller (Balntas et al.).
    LAZYNN_ARG(bool, swap) = false;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// max(d(a, p) - d(a, n) + margin, 0) over three inputs.
///
/// Example:
///     nn::TripletMarginLoss criterion(nn::TripletMarginLossOptions().margin(0.5));
///     Tensor loss = criterion(anchor, positive, negative);
class TripletMarginLoss : public Module {
    LAZYNN_MODULE(TripletMarginLoss)
public:
    explicit TripletMarginLoss(TripletMarginLossOptions options = {}) : options_(options) {
        set_name("TripletMarginLoss");
    }
    /// Shapes: anchor, positive, negative [N, D] -> scalar, or [N]
    Tensor operator()(const Tensor& anchor, const Tensor& positive, const Tensor& negative) {
        return call_with_hooks({anchor, positive, negative}, [&](const std::vector<Tensor>& in) {
            return functional::triplet_margin_loss(in[0], in[1], in[2], options_.margin(), options_.p(), options_.eps(),
                                                   options_.swap(), options_.reduction());
        });
    }
    const TripletMarginLossOptions& options() const { return options_; }

private:
    TripletMarginLossOptions options_;
};

struct CosineEmbeddingLossOptions {
    LAZYNN_ARG(double, margin) = 0.0;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// 1 - cos(x1, x2) for target 1, max(0, cos(x1, x2) - margin) for target -1.
///
/// Example:
///     nn::CosineEmbeddingLoss criterion(nn::CosineEmbeddingLossOptions().margin(0.2));
///     Tensor loss = criterion(x1, x2, target);   // target of 1 / -1
class CosineEmbeddingLoss : public Module {
    LAZYNN_MODULE(CosineEmbeddingLoss)
public:
    explicit CosineEmbeddingLoss(CosineEmbeddingLossOptions options = {}) : options_(options) {
        set_name("CosineEmbeddingLoss");
    }
    /// Shapes: input1, input2 [N, D], target [N] of 1 / -1 -> scalar, or [N]
    Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
        return call_with_hooks({input1, input2, target}, [&](const std::vector<Tensor>& in) {
            return functional::cosine_embedding_loss(in[0], in[1], in[2], options_.margin(), options_.reduction());
        });
    }
    const CosineEmbeddingLossOptions& options() const { return options_; }

private:
    CosineEmbeddingLossOptions options_;
};

struct MarginRankingLossOptions {
    LAZYNN_ARG(double, margin) = 0.0;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// max(0, -target * (x1 - x2) + margin).
///
/// Example:
///     nn::MarginRankingLoss criterion(nn::MarginRankingLossOptions().margin(0.3));
///     Tensor loss = criterion(x1, x2, target);   // target of 1 / -1
class MarginRankingLoss : public Module {
    LAZYNN_MODULE(MarginRankingLoss)
public:
    explicit MarginRankingLoss(MarginRankingLossOptions options = {}) : options_(options) {
        set_name("MarginRankingLoss");
    }
    /// Shapes: input1, input2, target [N] -> scalar, or [N]
    Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
        return call_with_hooks({input1, input2, target}, [&](const std::vector<Tensor>& in) {
            return functional::margin_ranking_loss(in[0], in[1], in[2], options_.margin(), options_.reduction());
        });
    }
    const MarginRankingLossOptions& options() const { return options_; }

private:
    MarginRankingLossOptions options_;
};

struct PoissonNLLLossOptions {
    /// The input holds log-rates (exp is applied); otherwise rates.
    LAZYNN_ARG(bool, log_input) = true;
    /// Adds Stirling's approximation of log(target!) for targets above 1.
    LAZYNN_ARG(bool, full) = false;
    /// Keeps log(input + eps) finite when log_input is false.
    LAZYNN_ARG(double, eps) = 1e-8;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Negative log-likelihood of a Poisson-distributed target.
///
/// Example:
///     nn::PoissonNLLLoss criterion(nn::PoissonNLLLossOptions().full(true));
///     Tensor loss = criterion(log_rates, counts);
class PoissonNLLLoss : public Loss {
    LAZYNN_MODULE(PoissonNLLLoss)
public:
    explicit PoissonNLLLoss(PoissonNLLLossOptions options = {}) : options_(options) { set_name("PoissonNLLLoss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::poisson_nll_loss(input, target, options_.log_input(), options_.full(), options_.eps(),
                                            options_.reduction());
    }
    const PoissonNLLLossOptions& options() const { return options_; }

private:
    PoissonNLLLossOptions options_;
};

struct GaussianNLLLossOptions {
    /// Adds the constant 0.5 * log(2 pi).
    LAZYNN_ARG(bool, full) = false;
    /// The smallest variance used (larger values are taken as they are).
    LAZYNN_ARG(double, eps) = 1e-6;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Negative log-likelihood of a target under a Gaussian with the predicted mean and variance.
///
/// Example:
///     nn::GaussianNLLLoss criterion;
///     Tensor loss = criterion(mean, target, variance);   // variance [N, D], [N] or [N, 1]
class GaussianNLLLoss : public Module {
    LAZYNN_MODULE(GaussianNLLLoss)
public:
    explicit GaussianNLLLoss(GaussianNLLLossOptions options = {}) : options_(options) { set_name("GaussianNLLLoss"); }
    /// Shapes: input [N, *], target [N, *], var like input, or without its last dim, or with a last dim
    /// of 1 -> scalar, or [N, *]
    Tensor operator()(const Tensor& input, const Tensor& target, const Tensor& var) {
        return call_with_hooks({input, target, var}, [&](const std::vector<Tensor>& in) {
            return functional::gaussian_nll_loss(in[0], in[1], in[2], options_.full(), options_.eps(),
                                                 options_.reduction());
        });
    }
    const GaussianNLLLossOptions& options() const { return options_; }

private:
    GaussianNLLLossOptions options_;
};

struct HingeEmbeddingLossOptions {
    LAZYNN_ARG(double, margin) = 1.0;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Hinge loss for a distance input and a target of 1 (similar) or -1 (dissimilar).
///
/// Example:
///     nn::HingeEmbeddingLoss criterion(nn::HingeEmbeddingLossOptions().margin(2.0));
///     Tensor loss = criterion(distances, labels);   // labels of 1 / -1
class HingeEmbeddingLoss : public Loss {
    LAZYNN_MODULE(HingeEmbeddingLoss)
public:
    explicit HingeEmbeddingLoss(HingeEmbeddingLossOptions options = {}) : options_(options) {
        set_name("HingeEmbeddingLoss");
    }
    /// Shapes: input [*], target [*] of 1 / -1 -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::hinge_embedding_loss(input, target, options_.margin(), options_.reduction());
    }
    const HingeEmbeddingLossOptions& options() const { return options_; }

private:
    HingeEmbeddingLossOptions options_;
};

struct SoftMarginLossOptions {
    SoftMarginLossOptions(Reduction reduction = Reduction::Mean)
        : reduction_(reduction) {}  // NOLINT(google-explicit-constructor): SoftMarginLoss(Reduction::Sum)
    LAZYNN_ARG(Reduction, reduction);
};

/// Logistic loss of a two-class target of 1 / -1: log(1 + exp(-target * input)).
///
/// Example:
///     nn::SoftMarginLoss criterion;
///     Tensor loss = criterion(scores, labels);
class SoftMarginLoss : public Loss {
    LAZYNN_MODULE(SoftMarginLoss)
public:
    explicit SoftMarginLoss(SoftMarginLossOptions options = {}) : options_(options) { set_name("SoftMarginLoss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::soft_margin_loss(input, target, options_.reduction());
    }
    const SoftMarginLossOptions& options() const { return options_; }

private:
    SoftMarginLossOptions options_;
};

struct MultiMarginLossOptions {
    /// 1 or 2 (ValueError otherwise, as in PyTorch).
    LAZYNN_ARG(std::int64_t, p) = 1;
    LAZYNN_ARG(double, margin) = 1.0;
    /// [C] class weights; undefined means all ones.
    LAZYNN_ARG(Tensor, weight);
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// Multi-class hinge loss on scores and class indices.
///
/// Example:
///     nn::MultiMarginLoss criterion(nn::MultiMarginLossOptions().p(2).margin(0.5));
///     Tensor loss = criterion(scores, labels);   // scores [N, C], labels int64 [N]
class MultiMarginLoss : public Loss {
    LAZYNN_MODULE(MultiMarginLoss)
public:
    explicit MultiMarginLoss(MultiMarginLossOptions options = {});
    /// Shapes: input [N, C] or [C], target int64 [N] (or [1] / 0-dim) -> scalar, or [N]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::multi_margin_loss(input, target, options_.p(), options_.margin(), options_.weight(),
                                             options_.reduction());
    }
    const MultiMarginLossOptions& options() const { return options_; }

private:
    MultiMarginLossOptions options_;
};

struct MultiLabelMarginLossOptions {
    MultiLabelMarginLossOptions(Reduction reduction = Reduction::Mean)
        : reduction_(reduction) {}  // NOLINT(google-explicit-constructor): MultiLabelMarginLoss(Reduction::Sum)
    LAZYNN_ARG(Reduction, reduction);
};

/// Multi-label hinge loss: each row's target lists its classes, padded with -1.
///
/// Example:
///     nn::MultiLabelMarginLoss criterion;
///     Tensor loss = criterion(scores, targets);   // scores [N, C]; targets int64 [N, C], e.g. {3, 0, -1, 1}
class MultiLabelMarginLoss : public Loss {
    LAZYNN_MODULE(MultiLabelMarginLoss)
public:
    explicit MultiLabelMarginLoss(MultiLabelMarginLossOptions options = {}) : options_(options) {
        set_name("MultiLabelMarginLoss");
    }
    /// Shapes: input [N, C] or [C], target int64 like input -> scalar, or [N]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::multilabel_margin_loss(input, target, options_.reduction());
    }
    const MultiLabelMarginLossOptions& options() const { return options_; }

private:
    MultiLabelMarginLossOptions options_;
};

struct MultiLabelSoftMarginLossOptions {
    /// [C] class weights; undefined means all ones.
    LAZYNN_ARG(Tensor, weight);
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// One-versus-all logistic loss over C independent labels, averaged over the labels.
///
/// Example:
///     nn::MultiLabelSoftMarginLoss criterion;
///     Tensor loss = criterion(logits, targets);   // logits [N, C], targets of 0 / 1 [N, C]
class MultiLabelSoftMarginLoss : public Loss {
    LAZYNN_MODULE(MultiLabelSoftMarginLoss)
public:
    explicit MultiLabelSoftMarginLoss(MultiLabelSoftMarginLossOptions options = {}) : options_(std::move(options)) {
        set_name("MultiLabelSoftMarginLoss");
    }
    /// Shapes: input [N, C], target [N, C] -> scalar, or [N]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::multilabel_soft_margin_loss(input, target, options_.weight(), options_.reduction());
    }
    const MultiLabelSoftMarginLossOptions& options() const { return options_; }

private:
    MultiLabelSoftMarginLossOptions options_;
};

struct CTCLossOptions {
    LAZYNN_ARG(std::int64_t, blank) = 0;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
    /// Infinite losses (impossible alignments) become 0, with no gradient.
    LAZYNN_ARG(bool, zero_infinity) = false;
};

/// The CTC loss of log-probabilities against unaligned target sequences (functional::ctc_loss).
///
/// Example:
///     nn::CTCLoss criterion(nn::CTCLossOptions().blank(0));
///     Tensor loss = criterion(logits.log_softmax(2), targets, input_lengths, target_lengths);
class CTCLoss : public Module {
    LAZYNN_MODULE(CTCLoss)
public:
    explicit CTCLoss(CTCLossOptions options = {}) : options_(options) { set_name("CTCLoss"); }
    /// Shapes: log_probs [T, N, C] (or [T, C]), targets [N, S] or [sum(target_lengths)] int64,
    /// input_lengths [N], target_lengths [N] int64 -> scalar, or [N] with Reduction::None
    Tensor operator()(const Tensor& log_probs, const Tensor& targets, const Tensor& input_lengths,
                      const Tensor& target_lengths) {
        return call_with_hooks({log_probs, targets, input_lengths, target_lengths}, [&](const std::vector<Tensor>& in) {
            return functional::ctc_loss(in[0], in[1], in[2], in[3], options_.blank(), options_.reduction(),
                                        options_.zero_infinity());
        });
    }
    const CTCLossOptions& options() const { return options_; }

private:
    CTCLossOptions options_;
};

struct TripletMarginWithDistanceLossOptions {
    /// (x1, x2) -> one distance per row; empty means PairwiseDistance (Euclidean).
    LAZYNN_ARG(functional::DistanceFunction, distance_function);
    LAZYNN_ARG(double, margin) = 1.0;
    LAZYNN_ARG(bool, swap) = false;
    LAZYNN_ARG(Reduction, reduction) = Reduction::Mean;
};

/// TripletMarginLoss with a distance of your choice. Without one it holds a PairwiseDistance child
/// named distance_function, as PyTorch's does (and prints it).
///
/// Example:
///     nn::TripletMarginWithDistanceLoss criterion(nn::TripletMarginWithDistanceLossOptions().distance_function(
///         [](const Tensor& a, const Tensor& b) { return 1.0 - nn::functional::cosine_similarity(a, b); }));
///     Tensor loss = criterion(anchor, positive, negative);
class TripletMarginWithDistanceLoss : public Module {
    LAZYNN_MODULE(TripletMarginWithDistanceLoss)
public:
    explicit TripletMarginWithDistanceLoss(TripletMarginWithDistanceLossOptions options = {});
    /// Shapes: anchor, positive, negative [N, D] (the same number of dims) -> scalar, or [N]
    Tensor operator()(const Tensor& anchor, const Tensor& positive, const Tensor& negative);
    const TripletMarginWithDistanceLossOptions& options() const { return options_; }

private:
    TripletMarginWithDistanceLossOptions options_;
};

}  // namespace lazynn::nn
