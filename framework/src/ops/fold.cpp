// unfold and fold (PyTorch's im2col and col2im as ops): the sliding-block data movement of a 2-D
// convolution, on the kernels convolution.cpp runs (ops/im2col.hpp). Each is the other's adjoint,
// so each one's backward is the other, and double backward comes for free.
#include "autograd/function_node.hpp"
#include "ops/im2col.hpp"
#include "tensor_impl.hpp"

#include <lazynn/error.hpp>
#include <lazynn/ops/convolution.hpp>

#include <string>

namespace lazynn::ops {

using autograd::detail::needs_grad;
using autograd::detail::record;

namespace {

using Pair = std::array<std::int64_t, 2>;

std::string tuple(Pair a) { return "(" + std::to_string(a[0]) + ", " + std::to_string(a[1]) + ")"; }

/// PyTorch's checks of the four block parameters (im2col_shape_check), naming `op`.
void check_block_parameters(const char* op, Pair kernel, Pair dilation, Pair padding, Pair stride) {
    const auto positive = [op](const char* what, const char* h, const char* w, Pair v) {
        if (v[0] <= 0 || v[1] <= 0) {
            throw ValueError(std::string(op) + ": " + what + " should be greater than zero, but got " + h + ": " +
                             std::to_string(v[0]) + " " + w + ": " + std::to_string(v[1]));
        }
    };
    positive("kernel size", "kH", "kW", kernel);
    positive("dilation", "dH", "dW", dilation);
    positive("stride", "dH", "dW", stride);
    if (padding[0] < 0 || padding[1] < 0) {
        throw ValueError(std::string(op) + ": padding should be non-negative, but got padH: " +
                         std::to_string(padding[0]) + " padW: " + std::to_string(padding[1]));
    }
}

/// How many blocks fit along one dim (may be < 1: the callers refuse that with PyTorch's message).
std::int64_t blocks_along(std::int64_t size, std::int64_t kernel, std::int64_t dilation, std::int64_t padding,
                          std::int64_t stride) {
    return (size + 2 * padding - dilation * (kernel - 1) - 1) / stride + 1;
}

/// The convolution geometry im2col/col2im read: an image [n, c, image] cut into blocks.
detail::ConvGeometry block_geometry(std::int64_t n, std::int64_t c, Pair image, Pair blocks, Pair kernel, Pair dilation,
                                    Pair padding, Pair stride) {
    return detail::ConvGeometry{n,          c,           image[0],    image[1],  c,         kernel[0],
                                kernel[1],  blocks[0],   blocks[1],   stride[0], stride[1], padding[0],
                                padding[1], dilation[0], dilation[1], 1};
}

/// PyTorch's rule for unfold and fold: only the batch dimension (of a batched input) may be empty.
void check_non_batch_sizes(const char* op, const Tensor& input, bool batched, const char* torch_says) {
    for (std::int64_t d = batched ? 1 : 0; d < input.dim(); ++d) {
        if (input.size(d) == 0) {
            throw ShapeError(std::string(op) + ": expected non-zero sizes outside the batch dimension, got shape " +
                             shape_to_list(input.shape()) + " (PyTorch: " + torch_says + ")");
        }
    }
}

}  // namespace

Tensor unfold(const Tensor& input, Pair kernel, Pair dilation, Pair padding, Pair stride) {
    // Shapes: [N, C, H, W] -> [N, C * kH * kW, L]; [C, H, W] -> [C * kH * kW, L].
    lazynn::detail::checked(input, "unfold");
    check_block_parameters("unfold", kernel, dilation, padding, stride);
    if (input.dim() != 3 && input.dim() != 4) {
        throw ShapeError("unfold: expected a 3-D (unbatched) or 4-D (batched) input [N, C, H, W], got shape " +
                         shape_to_list(input.shape()));
    }
    check_non_batch_sizes("unfold", input, input.dim() == 4,
                          "Expected 3D or 4D (batch mode) tensor with possibly 0 batch size and other non-zero "
                          "dimensions");
    if (input.dim() == 3) return unfold(input.unsqueeze(0), kernel, dilation, padding, stride).squeeze(0);
    if (is_float16(input.dtype())) {
        return lazynn::detail::through_float32(
            input, [&](const Tensor& x) { return unfold(x, kernel, dilation, padding, stride); });
    }
    const std::int64_t n = input.size(0), c = input.size(1);
    const Pair image{input.size(2), input.size(3)};
    const Pair blocks{blocks_along(image[0], kernel[0], dilation[0], padding[0], stride[0]),
                      blocks_along(image[1], kernel[1], dilation[1], padding[1], stride[1])};
    if (blocks[0] < 1 || blocks[1] < 1) {
        throw ShapeError("unfold: given input with spatial size " + tuple(image) + ", kernel_size=" + tuple(kernel) +
                         ", dilation=" + tuple(dilation) + ", padding=" + tuple(padding) +
                         ", calculated shape of the array of sliding blocks as " + tuple(blocks) +
                         ", but its components must be at least one");
    }
    const detail::ConvGeometry geometry = block_geometry(n, c, image, blocks, kernel, dilation, padding, stride);
    const std::int64_t rows = geometry.k(), columns = geometry.l();
    Tensor out = lazynn::detail::empty_tensor({n, rows, columns}, input.dtype());
    const Tensor x = lazynn::detail::contiguous_data(input);
    visit_floating(input.dtype(), "unfold", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = x.impl().data<T>();
        T* cols = out.impl().data<T>();
        for (std::int64_t sample = 0; sample < n; ++sample)
            detail::im2col(geometry, in, sample, 0, cols + sample * rows * columns);
    });
    if (needs_grad({&input})) {
        record(
            out, "Im2ColBackward0", {input},
            [=](const Tensor& g) { return std::vector<Tensor>{fold(g, image, kernel, dilation, padding, stride)}; },
            false, autograd::detail::kDifferentiable);
    }
    return out;
}

Tensor fold(const Tensor& input, Pair output_size, Pair kernel, Pair dilation, Pair padding, Pair stride) {
    // Shapes: [N, C * kH * kW, L] -> [N, C, oH, oW]; [C * kH * kW, L] -> [C, oH, oW].
    lazynn::detail::checked(input, "fold");
    check_block_parameters("fold", kernel, dilation, padding, stride);
    if (output_size[0] <= 0 || output_size[1] <= 0) {
        throw ValueError("fold: output_size should be greater than zero, but got " + tuple(output_size));
    }
    if (input.dim() != 2 && input.dim() != 3) {
        throw ShapeError("fold: expected a 2-D (unbatched) or 3-D (batched) input [N, C * kH * kW, L], got shape " +
                         shape_to_list(input.shape()));
    }
    check_non_batch_sizes("fold", input, input.dim() == 3,
                          "Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                          "dimensions");
    if (input.dim() == 2) return fold(input.unsqueeze(0), output_size, kernel, dilation, padding, stride).squeeze(0);
    if (is_float16(input.dtype())) {
        return lazynn::detail::through_float32(
            input, [&](const Tensor& x) { return fold(x, output_size, kernel, dilation, padding, stride); });
    }
    const std::int64_t window = kernel[0] * kernel[1];
    if (input.size(1) % window != 0) {
        throw ShapeError(
            "fold: expected size of input's dimension 1 to be divisible by the product of kernel_size, "
            "but got input.size(1)=" +
            std::to_string(input.size(1)) + " and kernel_size=" + tuple(kernel));
    }
    const Pair blocks{blocks_along(output_size[0], kernel[0], dilation[0], padding[0], stride[0]),
                      blocks_along(output_size[1], kernel[1], dilation[1], padding[1], stride[1])};
    if (blocks[0] < 1 || blocks[1] < 1 || blocks[0] * blocks[1] != input.size(2)) {
        throw ShapeError("fold: given output_size=" + tuple(output_size) + ", kernel_size=" + tuple(kernel) +
                         ", dilation=" + tuple(dilation) + ", padding=" + tuple(padding) + ", stride=" + tuple(stride) +
                         ", expected size of input's dimension 2 to match the calculated number of sliding blocks " +
                         std::to_string(blocks[0]) + " * " + std::to_string(blocks[1]) + " = " +
                         std::to_string(blocks[0] * blocks[1]) +
                         ", but got input.size(2)=" + std::to_string(input.size(2)));
    }
    const std::int64_t n = input.size(0), c = input.size(1) / window;
    const detail::ConvGeometry geometry = block_geometry(n, c, output_size, blocks, kernel, dilation, padding, stride);
    const std::int64_t rows = geometry.k(), columns = geometry.l();
    Tensor out = zeros({n, c, output_size[0], output_size[1]}, TensorOptions().dtype(input.dtype()));
    const Tensor cols = lazynn::detail::contiguous_data(input);
    visit_floating(input.dtype(), "fold", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* in = cols.impl().data<T>();
        T* image = out.impl().data<T>();
        for (std::int64_t sample = 0; sample < n; ++sample)
            detail::col2im(geometry, in + sample * rows * columns, sample, 0, image);
    });
    if (needs_grad({&input})) {
        record(
            out, "Col2ImBackward0", {input},
            [=](const Tensor& g) { return std::vector<Tensor>{unfold(g, kernel, dilation, padding, stride)}; }, false,
            autograd::detail::kDifferentiable);
    }
    return out;
}

}  // namespace lazynn::ops
