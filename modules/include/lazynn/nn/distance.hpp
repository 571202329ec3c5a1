#pragma once
// Distances between two batches of vectors (PyTorch's torch.nn.modules.distance):
// CosineSimilarity and PairwiseDistance, with their functional forms.
//
// Example:
//     nn::CosineSimilarity cos;                    // dim 1, eps 1e-8
//     Tensor s = cos(a, b);                        // a, b [N, D] -> [N]
//     Tensor d = nn::functional::pairwise_distance(a, b, 1.0);   // L1 distance per row, [N]

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>

#include <cstdint>
#include <string>

namespace lazynn::nn {

namespace functional {

/// sum(x1 * x2) / (max(||x1||, eps) * max(||x2||, eps)) along dim, after broadcasting x1 and x2
/// (PyTorch 1.13's formula: each norm is clamped on its own, so a zero vector gives 0, not NaN).
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim = 1, double eps = 1e-8);
/// ||x1 - x2 + eps||_p over the last dimension of the broadcast inputs. p = 0 counts the nonzero
/// differences (no gradient, as in PyTorch); p < 0 is the same formula with a negative power.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p = 2.0, double eps = 1e-6, bool keepdim = false);

}  // namespace functional

struct CosineSimilarityOptions {
    LAZYNN_ARG(std::int64_t, dim) = 1;
    /// The smallest norm divided by (keeps zero vectors finite).
    LAZYNN_ARG(double, eps) = 1e-8;
};

/// Cosine of the angle between x1 and x2 along dim.
///
/// Example:
///     nn::CosineSimilarity cos(nn::CosineSimilarityOptions().dim(-1));
///     Tensor s = cos(queries, keys);   // [N, D] and [N, D] (or broadcastable) -> [N]
class CosineSimilarity : public Module {
    LAZYNN_MODULE(CosineSimilarity)
public:
    explicit CosineSimilarity(CosineSimilarityOptions options = {}) : options_(options) {
        set_name("CosineSimilarity");
    }
    /// Shapes: x1, x2 broadcastable to [*, D, *] (D at dim) -> [*, *]
    Tensor operator()(const Tensor& x1, const Tensor& x2);
    const CosineSimilarityOptions& options() const { return options_; }

private:
    CosineSimilarityOptions options_;
};

struct PairwiseDistanceOptions {
    /// The norm's order: 2 is Euclidean, 1 Manhattan, infinity the largest difference.
    LAZYNN_ARG(double, p) = 2.0;
    /// Added to the difference, so equal vectors have a differentiable distance.
    LAZYNN_ARG(double, eps) = 1e-6;
    LAZYNN_ARG(bool, keepdim) = false;
};

/// The p-norm of x1 - x2 + eps over the last dimension.
///
/// Example:
///     nn::PairwiseDistance dist;        // Euclidean
///     Tensor d = dist(a, b);            // [N, D], [N, D] -> [N]
class PairwiseDistance : public Module {
    LAZYNN_MODULE(PairwiseDistance)
public:
    explicit PairwiseDistance(PairwiseDistanceOptions options = {}) : options_(options) {
        set_name("PairwiseDistance");
    }
    /// Shapes: x1, x2 broadcastable to [*, D] -> [*] ([*, 1] with keepdim)
    Tensor operator()(const Tensor& x1, const Tensor& x2);
    const PairwiseDistanceOptions& options() const { return options_; }

private:
    PairwiseDistanceOptions options_;
};

}  // namespace lazynn::nn
