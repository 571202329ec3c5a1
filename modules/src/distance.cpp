// CosineSimilarity and PairwiseDistance: compositions of differentiable tensor ops.
#include <lazynn/error.hpp>
#include <lazynn/nn/distance.hpp>

#include <algorithm>
#include <cmath>

namespace lazynn::nn {

namespace functional {

Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, std::int64_t dim, double eps) {
    const Shape shape = broadcast_shapes(x1.shape(), x2.shape(), "cosine_similarity");
    const std::int64_t d = normalize_dim(dim, static_cast<std::int64_t>(shape.size()));
    const Tensor a = x1.expand(shape), b = x2.expand(shape);
    // Each norm is clamped on its own (PyTorch 1.13); below eps the norm's gradient is 0.
    const Tensor norm_a = a.norm(2.0, {d}, true).clamp_min(eps);
    const Tensor norm_b = b.norm(2.0, {d}, true).clamp_min(eps);
    return ((a / norm_a) * (b / norm_b)).sum({d});
}

Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, double p, double eps, bool keepdim) {
    const Tensor diff = x1 - x2 + eps;
    if (diff.dim() == 0) return p == 0 ? (diff != 0.0).to(diff.dtype()) : diff.abs();
    const std::int64_t last = diff.dim() - 1;
    if (p > 0) return diff.norm(p, {last}, keepdim);
    if (p == 0) return (diff != 0.0).to(diff.dtype()).sum({last}, keepdim);
    if (std::isnan(p)) throw ValueError("pairwise_distance: p must be a number, got nan");
    return diff.abs().pow(p).sum({last}, keepdim).pow(1.0 / p);
}

}  // namespace functional

Tensor CosineSimilarity::operator()(const Tensor& x1, const Tensor& x2) {
    return call_with_hooks({x1, x2}, [&](const std::vector<Tensor>& in) {
        return functional::cosine_similarity(in[0], in[1], options_.dim(), options_.eps());
    });
}

Tensor PairwiseDistance::operator()(const Tensor& x1, const Tensor& x2) {
    return call_with_hooks({x1, x2}, [&](const std::vector<Tensor>& in) {
        return functional::pairwise_distance(in[0], in[1], options_.p(), options_.eps(), options_.keepdim());
    });
}

}  // namespace lazynn::nn
