#pragma once
// Stateless forms of the layers (PyTorch's torch.nn.functional): every nn::functional op is
// reachable from this header, except the options forms beside their layers' options in
// nn/fold.hpp (unfold, fold), nn/unpool.hpp (max_unpool1d/2d/3d), nn/pooling.hpp (lp_pool1d,
// lp_pool2d) and nn/shape_layers.hpp (interpolate, adaptive_max_pool1d/2d/3d, adaptive_max_pool_with_indices),
// which <lazynn/nn.hpp> has.
//   here:                 linear, linear_relu, dropout, relu, gelu
//   the core's ops:       conv2d, conv2d_relu, conv3d, conv_transpose2d, conv_transpose3d, pad,
//                         unfold, fold (lazynn/ops/convolution.hpp; nn/fold.hpp adds the
//                         options forms); max_pool2d, max_pool2d_with_indices,
//                         max_pool3d_with_indices, avg_pool2d, avg_pool3d, adaptive_avg_pool2d,
//                         adaptive_avg_pool3d (lazynn/ops/pooling.hpp); layer_norm, group_norm
//                         (lazynn/ops/normalization.hpp)
//   losses (nn/loss.hpp, beside their options): mse_loss, l1_loss, smooth_l1_loss, huber_loss,
//                         cross_entropy, nll_loss, binary_cross_entropy,
//                         binary_cross_entropy_with_logits, kl_div, cosine_embedding_loss,
//                         margin_ranking_loss, triplet_margin_loss, triplet_margin_with_distance_loss,
//                         poisson_nll_loss, gaussian_nll_loss, hinge_embedding_loss,
//                         soft_margin_loss, multi_margin_loss, multilabel_margin_loss,
//                         multilabel_soft_margin_loss, ctc_loss
//   distances (nn/distance.hpp): cosine_similarity, pairwise_distance
// Softmax, log_softmax and the other element-wise functions are Tensor methods (tensor.hpp).

#include <lazynn/nn/distance.hpp>
#include <lazynn/nn/loss.hpp>
#include <lazynn/ops/convolution.hpp>
#include <lazynn/ops/linear.hpp>
#include <lazynn/ops/normalization.hpp>
#include <lazynn/ops/pooling.hpp>
#include <lazynn/tensor.hpp>

namespace lazynn::nn::functional {

/// linear and linear_relu are the core's (lazynn/ops/linear.hpp).
using ops::linear;
using ops::linear_relu;
/// Zeroes each element with probability p and scales the rest by 1/(1-p) while training.
Tensor dropout(const Tensor& input, double p = 0.5, bool training = true);
Tensor relu(const Tensor& input);
Tensor gelu(const Tensor& input, bool tanh_approximation = false);

/// The convolution ops of the core (lazynn/ops/convolution.hpp), under PyTorch's F.* names.
using ops::conv2d;
using ops::conv2d_relu;
using ops::conv3d;
using ops::conv_transpose2d;
using ops::conv_transpose3d;
using ops::fold;
using ops::pad;
using ops::unfold;
/// The pooling ops of the core (lazynn/ops/pooling.hpp), under PyTorch's F.* names.
using ops::adaptive_avg_pool2d;
using ops::adaptive_avg_pool3d;
using ops::avg_pool2d;
using ops::avg_pool3d;
using ops::max_pool2d;
using ops::max_pool2d_with_indices;
using ops::max_pool3d_with_indices;
/// The normalisation ops of the core (lazynn/ops/normalization.hpp), under PyTorch's F.* names.
using ops::group_norm;
using ops::layer_norm;

}  // namespace lazynn::nn::functional
