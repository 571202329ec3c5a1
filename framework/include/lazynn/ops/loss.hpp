#pragma once
// The fused class-index loss (core op): what nn::functional::cross_entropy and nll_loss run for
// class-index targets. The other losses are compositions of tensor ops and live in lazynn::nn.

#include <lazynn/tensor.hpp>

#include <cstdint>

namespace lazynn::ops {

/// How a per-sample loss is reduced (PyTorch's 'none', 'mean', 'sum'). 'mean' divides by the sum
/// of the target weights of the samples kept (ignore_index excluded), as PyTorch does.
enum class LossReduction { None, Mean, Sum };

/// Negative log-likelihood of class `target[i]` for each row i, weighted by `weight[target[i]]`
/// (undefined: all 1), rows whose target is `ignore_index` skipped. With `from_logits` the rows are
/// logits (log-softmax is applied in the same pass) and `label_smoothing` mixes in the uniform
/// distribution (PyTorch's cross_entropy); otherwise the rows are log-probabilities (nll_loss,
/// label_smoothing 0). Throws IndexError for a target out of [0, C) and ShapeError for a weight
/// that is not [C], naming `op`.
/// Shapes: input [M, C], target [M] int64 -> [M] (None) or [] (Mean, Sum)
Tensor class_index_loss(const Tensor& input, const Tensor& target, const Tensor& weight, std::int64_t ignore_index,
                        LossReduction reduction, double label_smoothing, bool from_logits, const char* op);

}  // namespace lazynn::ops
