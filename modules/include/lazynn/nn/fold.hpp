#pragma once
// Unfold and Fold: sliding local blocks of an image as columns, and back (PyTorch's nn.Unfold and
// nn.Fold; the ops are the core's ops::unfold and ops::fold, <lazynn/ops/convolution.hpp>).

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/conv.hpp>

#include <cstdint>
#include <string>

namespace lazynn::nn {

/// PyTorch's nn.Unfold arguments and defaults: dilation=1, padding=0, stride=1.
struct UnfoldOptions {
    UnfoldOptions(ExpandingArray<2> kernel_size) : kernel_size_(kernel_size) {}  // NOLINT: Unfold({2, 3})
    UnfoldOptions(std::int64_t kernel_size) : kernel_size_(kernel_size) {}       // NOLINT: Unfold(3)
    LAZYNN_ARG(ExpandingArray<2>, kernel_size);
    LAZYNN_ARG(ExpandingArray<2>, dilation) = 1;
    LAZYNN_ARG(ExpandingArray<2>, padding) = 0;
    LAZYNN_ARG(ExpandingArray<2>, stride) = 1;
};

/// Extracts every kernel_size block of a batched image into a column (im2col): a convolution is
/// then weight.view({O, -1}).matmul(unfold(x)). Throws ValueError for a kernel, dilation or stride
/// below 1 or a negative padding, ShapeError (PyTorch's message) when no block fits.
///
/// Example:
///     nn::Unfold unfold(nn::UnfoldOptions({2, 3}).padding(1));   // [N, C, H, W] -> [N, C * 6, L]
class Unfold : public Module {
    LAZYNN_MODULE(Unfold)
public:
    explicit Unfold(UnfoldOptions options) : options_(std::move(options)) { set_name("Unfold"); }
    /// Shapes: [N, C, H, W] -> [N, C * kH * kW, L]; [C, H, W] -> [C * kH * kW, L]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const UnfoldOptions& options() const { return options_; }

private:
    UnfoldOptions options_;
};

/// PyTorch's nn.Fold arguments and defaults: dilation=1, padding=0, stride=1.
struct FoldOptions {
    FoldOptions(ExpandingArray<2> output_size, ExpandingArray<2> kernel_size)
        : output_size_(output_size), kernel_size_(kernel_size) {}
    LAZYNN_ARG(ExpandingArray<2>, output_size);
    LAZYNN_ARG(ExpandingArray<2>, kernel_size);
    LAZYNN_ARG(ExpandingArray<2>, dilation) = 1;
    LAZYNN_ARG(ExpandingArray<2>, padding) = 0;
    LAZYNN_ARG(ExpandingArray<2>, stride) = 1;
};

/// Unfold's adjoint (col2im): sums each column back into its block of an output_size image;
/// overlapping blocks add up. Throws ShapeError (PyTorch's messages) unless dim 1 divides by
/// kH * kW and dim 2 equals the number of blocks.
///
/// Example:
///     nn::Fold fold(nn::FoldOptions({4, 5}, 2));   // [N, C * 4, 12] -> [N, C, 4, 5]
class Fold : public Module {
    LAZYNN_MODULE(Fold)
public:
    explicit Fold(FoldOptions options) : options_(std::move(options)) { set_name("Fold"); }
    /// Shapes: [N, C * kH * kW, L] -> [N, C, oH, oW]; [C * kH * kW, L] -> [C, oH, oW]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const FoldOptions& options() const { return options_; }

private:
    FoldOptions options_;
};

namespace functional {
/// F.unfold(input, kernel_size, dilation, padding, stride).
Tensor unfold(const Tensor& input, const UnfoldOptions& options);
/// F.fold(input, output_size, kernel_size, dilation, padding, stride).
Tensor fold(const Tensor& input, const FoldOptions& options);
}  // namespace functional

}  // namespace lazynn::nn
