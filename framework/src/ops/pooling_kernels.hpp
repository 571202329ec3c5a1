#pragma once
// Vectorised kernels for 2x2 max pooling with stride 2 and no padding: the common CNN case.
//
// The forward computes values only; the backward recomputes each window's maximum from the saved
// input instead of reading saved indices. That keeps the forward a pure, vectorisable max,
// avoids writing an int64 index per output, and lets the backward write every input gradient
// exactly once (no zero fill, no scatter).

#include <lazynn/tensor.hpp>

#include <cstdint>

namespace lazynn::ops::detail {

/// The gradient of a max pooling for g, written with recording ops (the create_graph formula):
/// each output's gradient goes to the input element its index names. Linear in g; the second
/// derivative through the (locally constant) choice of maxima is zero (pooling.cpp).
/// Shapes: g [N, C, H', W'], indices int64 [N, C, H', W'] (flat h * W + w) -> `shape` [N, C, H, W].
Tensor max_pool_grad_graph(const Tensor& g, const Tensor& indices, const Shape& shape);

/// The window's value: the first maximum in scan order (top-left, top-right, bottom-left,
/// bottom-right), or NaN when the window holds one.
/// Shapes: `planes` planes of [h, w] -> [h / 2, w / 2]
template <class T>
void max_pool_2x2_forward(const T* input, T* output, std::int64_t planes, std::int64_t h, std::int64_t w);

/// grad_input of the planes: grad_output goes to the position PyTorch's max_pool2d reports
/// (the first maximum, or the last NaN), zero elsewhere, including rows and columns no window
/// covers.
/// Shapes: input and grad_input `planes` x [h, w]; grad_output `planes` x [h / 2, w / 2]
template <class T>
void max_pool_2x2_backward(const T* input, const T* grad_output, T* grad_input, std::int64_t planes, std::int64_t h,
                           std::int64_t w);

}  // namespace lazynn::ops::detail
