// Compiled alone: <lazynn/nn/functional.hpp> by itself declares every op its header lists.
#include <lazynn/nn/functional.hpp>

namespace F = lazynn::nn::functional;

double functional_only() {
    using F::adaptive_avg_pool2d, F::adaptive_avg_pool3d, F::avg_pool2d, F::avg_pool3d, F::max_pool2d,
        F::max_pool2d_with_indices, F::max_pool3d_with_indices;
    using F::binary_cross_entropy, F::binary_cross_entropy_with_logits, F::cosine_embedding_loss, F::cross_entropy,
        F::huber_loss, F::kl_div, F::l1_loss, F::margin_ranking_loss, F::mse_loss, F::nll_loss, F::smooth_l1_loss,
        F::triplet_margin_loss, F::triplet_margin_with_distance_loss, F::poisson_nll_loss, F::gaussian_nll_loss,
        F::hinge_embedding_loss, F::soft_margin_loss, F::multi_margin_loss, F::multilabel_margin_loss,
        F::multilabel_soft_margin_loss;
    using F::conv2d, F::conv2d_relu, F::conv3d, F::conv_transpose2d, F::conv_transpose3d, F::fold, F::pad, F::unfold;
    using F::cosine_similarity, F::pairwise_distance;
    using F::dropout, F::gelu, F::group_norm, F::layer_norm, F::linear, F::linear_relu, F::relu;
    const lazynn::Tensor x = lazynn::tensor({-1.0, 0.0, 2.0});
    return F::mse_loss(F::relu(x), F::gelu(x)).item<double>();
}
