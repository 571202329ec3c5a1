#pragma once
// Loss functions with PyTorch's semantics: functional forms and module wrappers.
// Every loss takes `reduction` (None keeps per-element losses, Mean and Sum reduce).

#include <lazynn/module.hpp>

#include <cstdint>
#include <string>

namespace lazynn::nn {

enum class Reduction { None, Mean, Sum };
/// "none", "mean", "sum"; KLDivLoss also takes "batchmean".
Reduction parse_reduction(const std::string& name);

namespace functional {

Tensor mse_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean);
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean, double beta = 1.0);
Tensor huber_loss(const Tensor& input, const Tensor& target, Reduction reduction = Reduction::Mean, double delta = 1.0);

struct CrossEntropyOptions {
    Tensor weight;                 // [C] class weights, optional
    std::int64_t ignore_index = -100;
    Reduction reduction = Reduction::Mean;
    double label_smoothing = 0.0;
};
/// input [N, C] or [N, C, d1, ...] (logits); target int64 class indices [N] / [N, d1, ...] or
/// float probabilities shaped like input. Log-softmax and NLL are fused into one kernel for
/// class indices.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyOptions& options = {});
/// input holds log-probabilities; same shapes and options as cross_entropy (no smoothing).
Tensor nll_loss(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(), std::int64_t ignore_index = -100,
                Reduction reduction = Reduction::Mean);
/// input in (0, 1); the logs are clamped at -100 as in PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                            Reduction reduction = Reduction::Mean);
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target, const Tensor& weight = Tensor(),
                                        const Tensor& pos_weight = Tensor(), Reduction reduction = Reduction::Mean);
/// input holds log-probabilities; target probabilities (or log-probabilities with log_target).
/// `batchmean` divides the sum by the batch size, which is the mathematically correct KL.
Tensor kl_div(const Tensor& input, const Tensor& target, const std::string& reduction = "mean", bool log_target = false);
Tensor cosine_embedding_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                             Reduction reduction = Reduction::Mean);
Tensor margin_ranking_loss(const Tensor& input1, const Tensor& input2, const Tensor& target, double margin = 0.0,
                           Reduction reduction = Reduction::Mean);
Tensor triplet_margin_loss(const Tensor& anchor, const Tensor& positive, const Tensor& negative, double margin = 1.0,
                           double p = 2.0, double eps = 1e-6, bool swap = false, Reduction reduction = Reduction::Mean);

}  // namespace functional

/// A loss module: forward(input, target). Not usable inside Sequential (two inputs).
class Loss : public Module {
public:
    explicit Loss(Reduction reduction) : reduction_(reduction) {}
    Tensor operator()(const Tensor& input, const Tensor& target) {
        return call_with_hooks({input, target}, [&](const std::vector<Tensor>& in) { return forward(in[0], in[1]); });
    }
    virtual Tensor forward(const Tensor& input, const Tensor& target) = 0;
    using Module::forward;
    std::string extra_repr() const override { return ""; }
    Reduction reduction() const { return reduction_; }

protected:
    Reduction reduction_;
};

#define LAZYNN_SIMPLE_LOSS(Class, call)                                                              \
    class Class : public Loss {                                                                      \
        LAZYNN_MODULE(Class)                                                                         \
    public:                                                                                          \
        explicit Class(Reduction reduction = Reduction::Mean) : Loss(reduction) { set_name(#Class); } \
        /** Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None */                  \
        Tensor forward(const Tensor& input, const Tensor& target) override { return call; }          \
    }

LAZYNN_SIMPLE_LOSS(MSELoss, functional::mse_loss(input, target, reduction_));
LAZYNN_SIMPLE_LOSS(L1Loss, functional::l1_loss(input, target, reduction_));

class SmoothL1Loss : public Loss {
    LAZYNN_MODULE(SmoothL1Loss)
public:
    explicit SmoothL1Loss(Reduction reduction = Reduction::Mean, double beta = 1.0) : Loss(reduction), beta_(beta) { set_name("SmoothL1Loss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override { return functional::smooth_l1_loss(input, target, reduction_, beta_); }

private:
    double beta_;
};

class HuberLoss : public Loss {
    LAZYNN_MODULE(HuberLoss)
public:
    explicit HuberLoss(Reduction reduction = Reduction::Mean, double delta = 1.0) : Loss(reduction), delta_(delta) { set_name("HuberLoss"); }
    /// Shapes: input [*], target [*] -> scalar, or [*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override { return functional::huber_loss(input, target, reduction_, delta_); }

private:
    double delta_;
};

class CrossEntropyLoss : public Loss {
    LAZYNN_MODULE(CrossEntropyLoss)
public:
    explicit CrossEntropyLoss(functional::CrossEntropyOptions options = {}) : Loss(options.reduction), options_(std::move(options)) {
        set_name("CrossEntropyLoss");
    }
    /// Shapes: input [N, C] or [N, C, d*], target [N] or [N, d*] (int64) or like input (probabilities)
    ///         -> scalar, or [N, d*] with Reduction::None
    Tensor forward(const Tensor& input, const Tensor& target) override { return functional::cross_entropy(input, target, options_); }

private:
    functional::CrossEntropyOptions options_;
};

class NLLLoss : public Loss {
    LAZYNN_MODULE(NLLLoss)
public:
    explicit NLLLoss(Tensor weight = Tensor(), std::int64_t ignore_index = -100, Reduction reduction = Reduction::Mean)
        : Loss(reduction), weight_(std::move(weight)), ignore_index_(ignore_index) { set_name("NLLLoss"); }
    /// Shapes: input [N, C] or [N, C, d*] (log-probabilities), target [N] or [N, d*] -> scalar, or [N, d*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::nll_loss(input, target, weight_, ignore_index_, reduction_);
    }

private:
    Tensor weight_;
    std::int64_t ignore_index_;
};

class BCELoss : public Loss {
    LAZYNN_MODULE(BCELoss)
public:
    explicit BCELoss(Tensor weight = Tensor(), Reduction reduction = Reduction::Mean) : Loss(reduction), weight_(std::move(weight)) { set_name("BCELoss"); }
    /// Shapes: input [*] in (0, 1), target [*] -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::binary_cross_entropy(input, target, weight_, reduction_);
    }

private:
    Tensor weight_;
};

class BCEWithLogitsLoss : public Loss {
    LAZYNN_MODULE(BCEWithLogitsLoss)
public:
    explicit BCEWithLogitsLoss(Tensor weight = Tensor(), Tensor pos_weight = Tensor(), Reduction reduction = Reduction::Mean)
        : Loss(reduction), weight_(std::move(weight)), pos_weight_(std::move(pos_weight)) { set_name("BCEWithLogitsLoss"); }
    /// Shapes: input [*] (logits), target [*] -> scalar, or [*]
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::binary_cross_entropy_with_logits(input, target, weight_, pos_weight_, reduction_);
    }

private:
    Tensor weight_;
    Tensor pos_weight_;
};

class KLDivLoss : public Loss {
    LAZYNN_MODULE(KLDivLoss)
public:
    explicit KLDivLoss(std::string reduction = "mean", bool log_target = false)
        : Loss(Reduction::Mean), reduction_name_(std::move(reduction)), log_target_(log_target) { set_name("KLDivLoss"); }
    /// Shapes: input [*] (log-probabilities), target [*] -> scalar, or [*] with "none"
    Tensor forward(const Tensor& input, const Tensor& target) override {
        return functional::kl_div(input, target, reduction_name_, log_target_);
    }

private:
    std::string reduction_name_;
    bool log_target_;
};

/// Losses over three inputs.
class TripletMarginLoss : public Module {
    LAZYNN_MODULE(TripletMarginLoss)
public:
    explicit TripletMarginLoss(double margin = 1.0, double p = 2.0, double eps = 1e-6, bool swap = false, Reduction reduction = Reduction::Mean)
        : margin_(margin), p_(p), eps_(eps), swap_(swap), reduction_(reduction) { set_name("TripletMarginLoss"); }
    /// Shapes: anchor, positive, negative [N, D] -> scalar, or [N]
    Tensor operator()(const Tensor& anchor, const Tensor& positive, const Tensor& negative) {
        return call_with_hooks({anchor, positive, negative}, [&](const std::vector<Tensor>& in) {
            return functional::triplet_margin_loss(in[0], in[1], in[2], margin_, p_, eps_, swap_, reduction_);
        });
    }

private:
    double margin_, p_, eps_;
    bool swap_;
    Reduction reduction_;
};

class CosineEmbeddingLoss : public Module {
    LAZYNN_MODULE(CosineEmbeddingLoss)
public:
    explicit CosineEmbeddingLoss(double margin = 0.0, Reduction reduction = Reduction::Mean) : margin_(margin), reduction_(reduction) {
        set_name("CosineEmbeddingLoss");
    }
    /// Shapes: input1, input2 [N, D], target [N] of 1 / -1 -> scalar, or [N]
    Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
        return call_with_hooks({input1, input2, target},
                               [&](const std::vector<Tensor>& in) { return functional::cosine_embedding_loss(in[0], in[1], in[2], margin_, reduction_); });
    }

private:
    double margin_;
    Reduction reduction_;
};

class MarginRankingLoss : public Module {
    LAZYNN_MODULE(MarginRankingLoss)
public:
    explicit MarginRankingLoss(double margin = 0.0, Reduction reduction = Reduction::Mean) : margin_(margin), reduction_(reduction) {
        set_name("MarginRankingLoss");
    }
    /// Shapes: input1, input2, target [N] -> scalar, or [N]
    Tensor operator()(const Tensor& input1, const Tensor& input2, const Tensor& target) {
        return call_with_hooks({input1, input2, target},
                               [&](const std::vector<Tensor>& in) { return functional::margin_ranking_loss(in[0], in[1], in[2], margin_, reduction_); });
    }

private:
    double margin_;
    Reduction reduction_;
};

#undef LAZYNN_SIMPLE_LOSS

}  // namespace lazynn::nn
