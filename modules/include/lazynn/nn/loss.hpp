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

#include <cstdint>
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

}  // namespace lazynn::nn
