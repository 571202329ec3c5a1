#pragma once
// Convolutions written with recording ops (internal): the formulas the convolution nodes run under
// create_graph, so a gradient penalty or a Hessian-vector product can differentiate through a
// convolution's backward. The im2col columns are an index_select of the input (padding reads a zero
// slot), so every formula here is itself differentiable, again and again. They cost memory
// (the columns of the whole batch) and are only used when a graph of the backward is asked for;
// the fast backward stays on oneDNN and the im2col kernels.

#include "ops/conv_onednn.hpp"

#include <vector>

namespace lazynn::ops::detail {

/// The convolution `p` describes, y = conv(x, w) without bias.
/// Shapes: x [N, C, in...], w [O, C/groups, k...] -> [N, O, out...].
Tensor convolution_graph(const ConvProblem& p, const Tensor& x, const Tensor& w);

/// d<gy, conv(x, w)>/dx: the convolution's input gradient (the transposed convolution).
/// Shapes: gy [N, O, out...], w [O, C/groups, k...] -> [N, C, in...].
Tensor convolution_input_grad_graph(const ConvProblem& p, const Tensor& gy, const Tensor& w);

/// d<gy, conv(x, w)>/dw: the convolution's weight gradient.
/// Shapes: x [N, C, in...], gy [N, O, out...] -> [O, C/groups, k...].
Tensor convolution_weight_grad_graph(const ConvProblem& p, const Tensor& x, const Tensor& gy);

/// The gradients {input, weight, bias} of y = conv(x, w) + b for gy (undefined where not wanted).
/// requires: gy has p's output shape, x its input shape, w its weight shape.
std::vector<Tensor> convolution_backward_graph(const ConvProblem& p, const Tensor& gy, const Tensor& x, const Tensor& w,
                                               bool want_input, bool want_weight, bool want_bias);

}  // namespace lazynn::ops::detail
