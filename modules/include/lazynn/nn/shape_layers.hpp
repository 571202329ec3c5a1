#pragma once
// Layers that rearrange or resample: Unflatten, PixelShuffle, PixelUnshuffle, ChannelShuffle, ZeroPad2d, ConstantPad1d/2d,
// Upsample (nearest, linear, bilinear, bicubic, trilinear) and interpolate, AdaptiveMaxPool1d/2d/3d. (The channel dropouts moved to
// dropout.hpp, which this header still includes.)

#include <lazynn/arg.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/conv.hpp>
#include <lazynn/nn/dropout.hpp>
#include <lazynn/nn/pooling.hpp>

#include <array>
#include <optional>
#include <string>
#include <vector>

namespace lazynn::nn {

struct UnflattenOptions {
    UnflattenOptions(std::int64_t dim, Shape sizes) : dim_(dim), sizes_(std::move(sizes)) {}
    LAZYNN_ARG(std::int64_t, dim);
    /// The sizes dim is split into; their product must equal the size of dim.
    LAZYNN_ARG(Shape, sizes);
};

/// Splits dim into `sizes`. Throws ShapeError when prod(sizes) differs from the size of dim.
///
/// Example:
///     nn::Unflatten unflat(1, {2, 3});   // [N, 6] -> [N, 2, 3]
class Unflatten : public Module {
    LAZYNN_MODULE(Unflatten)
public:
    explicit Unflatten(UnflattenOptions options);
    Unflatten(std::int64_t dim, Shape sizes) : Unflatten(UnflattenOptions(dim, std::move(sizes))) {}
    /// Shapes: [*, prod(sizes), *] -> [*, *sizes, *]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const UnflattenOptions& options() const { return options_; }

private:
    UnflattenOptions options_;
};

struct PixelShuffleOptions {
    PixelShuffleOptions(std::int64_t upscale_factor)
        : upscale_factor_(upscale_factor) {}  // NOLINT(google-explicit-constructor): PixelShuffle(2)
    LAZYNN_ARG(std::int64_t, upscale_factor);
};

/// Moves r*r channels into an r-times larger image. Throws ValueError for a factor below 1.
///
/// Example:
///     nn::PixelShuffle shuffle(2);   // [N, 12, 4, 4] -> [N, 3, 8, 8]
class PixelShuffle : public Module {
    LAZYNN_MODULE(PixelShuffle)
public:
    explicit PixelShuffle(PixelShuffleOptions options);
    /// Shapes: [*, C*r*r, H, W] -> [*, C, H*r, W*r]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override { return "upscale_factor=" + std::to_string(options_.upscale_factor()); }
    const PixelShuffleOptions& options() const { return options_; }

private:
    PixelShuffleOptions options_;
};

struct PixelUnshuffleOptions {
    PixelUnshuffleOptions(std::int64_t downscale_factor)
        : downscale_factor_(downscale_factor) {}  // NOLINT(google-explicit-constructor): PixelUnshuffle(2)
    LAZYNN_ARG(std::int64_t, downscale_factor);
};

/// PixelShuffle's inverse: each r x r block of pixels becomes r*r channels. Throws ValueError for a
/// factor below 1 and ShapeError (PyTorch's messages) unless H and W divide by r.
///
/// Example:
///     nn::PixelUnshuffle unshuffle(2);   // [N, 3, 8, 8] -> [N, 12, 4, 4]
class PixelUnshuffle : public Module {
    LAZYNN_MODULE(PixelUnshuffle)
public:
    explicit PixelUnshuffle(PixelUnshuffleOptions options);
    /// Shapes: [*, C, H*r, W*r] -> [*, C*r*r, H, W]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override {
        return "downscale_factor=" + std::to_string(options_.downscale_factor());
    }
    const PixelUnshuffleOptions& options() const { return options_; }

private:
    PixelUnshuffleOptions options_;
};

struct ChannelShuffleOptions {
    ChannelShuffleOptions(std::int64_t groups) : groups_(groups) {}  // NOLINT(google-explicit-constructor)
    LAZYNN_ARG(std::int64_t, groups);
};

/// ShuffleNet's channel shuffle: the C channels, seen as [groups, C / groups], are transposed, so
/// channel g * (C / groups) + k moves to k * groups + g. Throws ValueError for groups < 1 and
/// ShapeError (PyTorch's messages) unless C divides by groups.
///
/// Example:
///     nn::ChannelShuffle shuffle(2);   // channels 0 1 2 3 -> 0 2 1 3
class ChannelShuffle : public Module {
    LAZYNN_MODULE(ChannelShuffle)
public:
    explicit ChannelShuffle(ChannelShuffleOptions options);
    /// Shapes: [N, C, *] -> same
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override { return "groups=" + std::to_string(options_.groups()); }
    const ChannelShuffleOptions& options() const { return options_; }

private:
    ChannelShuffleOptions options_;
};

/// Constant padding: D amounts in PyTorch's order (left, right[, top, bottom]) and the fill value.
template <std::size_t D>
struct ConstantPadOptions {
    ConstantPadOptions(ExpandingArray<D> padding, double value) : padding_(padding), value_(value) {}
    LAZYNN_ARG(ExpandingArray<D>, padding);
    LAZYNN_ARG(double, value);
};
using ConstantPad1dOptions = ConstantPadOptions<2>;
using ConstantPad2dOptions = ConstantPadOptions<4>;

struct ZeroPad2dOptions {
    ZeroPad2dOptions(ExpandingArray<4> padding)
        : padding_(padding) {}  // NOLINT(google-explicit-constructor): ZeroPad2d({1, 2, 0, 1})
    /// left, right, top, bottom.
    LAZYNN_ARG(ExpandingArray<4>, padding);
};

/// Constant padding of the last dims (PyTorch order: left, right[, top, bottom]).
class ConstantPadNd : public Module {
public:
    /// Shapes: [*, H, W] -> [*, H + top + bottom, W + left + right]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

protected:
    ConstantPadNd(std::vector<std::int64_t> padding, double value, const char* name);
    std::vector<std::int64_t> padding_;
    double value_;
};

/// Pads the last dim with a constant.
///
/// Example:
///     nn::ConstantPad1d pad(nn::ConstantPad1dOptions({2, 1}, 3.5));   // [*, W] -> [*, W + 3]
class ConstantPad1d : public ConstantPadNd {
    LAZYNN_MODULE(ConstantPad1d)
public:
    explicit ConstantPad1d(ConstantPad1dOptions options)
        : ConstantPadNd({options.padding()[0], options.padding()[1]}, options.value(), "ConstantPad1d") {}
    ConstantPad1d(ExpandingArray<2> padding, double value) : ConstantPad1d(ConstantPad1dOptions(padding, value)) {}
};

/// Pads the last two dims with a constant.
///
/// Example:
///     nn::ConstantPad2d pad(1, 0.5);   // one on every side
class ConstantPad2d : public ConstantPadNd {
    LAZYNN_MODULE(ConstantPad2d)
public:
    explicit ConstantPad2d(ConstantPad2dOptions options)
        : ConstantPadNd({options.padding()[0], options.padding()[1], options.padding()[2], options.padding()[3]},
                        options.value(), "ConstantPad2d") {}
    ConstantPad2d(ExpandingArray<4> padding, double value) : ConstantPad2d(ConstantPad2dOptions(padding, value)) {}
};

/// Pads the last two dims with zeros.
///
/// Example:
///     nn::ZeroPad2d pad(nn::ExpandingArray<4>({1, 2, 0, 1}));   // left, right, top, bottom
class ZeroPad2d : public ConstantPadNd {
    LAZYNN_MODULE(ZeroPad2d)
public:
    explicit ZeroPad2d(ZeroPad2dOptions options)
        : ConstantPadNd({options.padding()[0], options.padding()[1], options.padding()[2], options.padding()[3]}, 0.0,
                        "ZeroPad2d") {}
    std::string extra_repr() const override;
};

/// PyTorch's interpolation modes: Nearest (3-, 4- or 5-d input), Linear (3-d), Bilinear and
/// Bicubic (4-d), Trilinear (5-d).
enum class UpsampleMode { Nearest, Linear, Bilinear, Bicubic, Trilinear };

/// PyTorch's name of a mode ("nearest", "bilinear", ...).
const char* upsample_mode_name(UpsampleMode mode);

/// An Upsample output size: one value per spatial dimension, or one for all (PyTorch's int size).
using UpsampleSize = std::vector<std::int64_t>;

/// Exactly one of size and scale_factor must be set (PyTorch's Upsample / F.interpolate).
struct UpsampleOptions {
    /// The output's spatial sizes ([L'], [H', W'] or [D', H', W'], or one value for all).
    LAZYNN_ARG(std::optional<UpsampleSize>, size);
    /// Each spatial size times scale_factor, rounded down; source coordinates use 1 / scale_factor
    /// (PyTorch's rule). One factor for every dimension (PyTorch's tuple of factors is not taken).
    LAZYNN_ARG(std::optional<double>, scale_factor);
    LAZYNN_ARG(UpsampleMode, mode) = UpsampleMode::Nearest;
    /// The interpolating modes only (ValueError for Nearest); unset means false. With true the
    /// corner pixels' centres map onto each other.
    LAZYNN_ARG(std::optional<bool>, align_corners);
};

/// Resizes the spatial dims by nearest-neighbour, (bi/tri)linear or bicubic interpolation
/// (functional::interpolate, PyTorch's kernels' weights: bicubic is Keys' cubic with A = -0.75 and
/// the taps clamped to the edge). Throws ValueError unless exactly one of size and scale_factor is
/// given, or for align_corners with Nearest; NotImplementedError for an input rank the mode does
/// not take, with PyTorch's messages.
///
/// Example:
///     nn::Upsample up(nn::UpsampleOptions().scale_factor(2.0).mode(nn::UpsampleMode::Bilinear));
///     nn::Upsample to(nn::UpsampleOptions().size(nn::UpsampleSize{5, 7}));
///     nn::Upsample cubic(nn::UpsampleOptions().size(nn::UpsampleSize{64}).mode(nn::UpsampleMode::Bicubic).align_corners(true));
class Upsample : public Module {
    LAZYNN_MODULE(Upsample)
public:
    explicit Upsample(UpsampleOptions options);
    /// Shapes: [N, C, *in] -> [N, C, *out], 1 to 3 spatial dims as the mode takes
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const UpsampleOptions& options() const { return options_; }

private:
    UpsampleOptions options_;
};

namespace functional {
/// F.interpolate(input, size or scale_factor, mode, align_corners): what Upsample computes, one
/// spatial dimension at a time (a gather for Nearest, an interpolation matrix otherwise, so the
/// gradient is the matrices' transpose).
///   requires: the options as Upsample checks them; a floating input of the mode's rank; size
///             with one value or one per spatial dimension (ValueError, PyTorch's message).
/// Shapes: [N, C, *in] -> [N, C, *out]
Tensor interpolate(const Tensor& input, const UpsampleOptions& options);

/// F.adaptive_max_pool{N}d(input, output_size, return_indices=True): the values and, for each,
/// the flat index of its maximum within its plane (d * H * W + h * W + w), as PyTorch returns them
/// and MaxUnpool takes them. A window's maximum is its first in scan order, or its last NaN.
///   requires: rank N + 1 or N + 2 (ShapeError naming `who`), a floating dtype, positive sizes.
/// Shapes: [B, C, *spatial] or [C, *spatial] -> values and indices [B, C, *output_size] (int64)
template <std::size_t N>
ValuesIndices adaptive_max_pool_with_indices(const Tensor& input, const ExpandingArray<N>& output_size,
                                             const std::string& who = "adaptive_max_pool" + std::to_string(N) + "d");
/// The values only (F.adaptive_max_pool{N}d(input, output_size)).
inline Tensor adaptive_max_pool1d(const Tensor& input, const ExpandingArray<1>& output_size) {
    return adaptive_max_pool_with_indices<1>(input, output_size).values;
}
inline Tensor adaptive_max_pool2d(const Tensor& input, const ExpandingArray<2>& output_size) {
    return adaptive_max_pool_with_indices<2>(input, output_size).values;
}
inline Tensor adaptive_max_pool3d(const Tensor& input, const ExpandingArray<3>& output_size) {
    return adaptive_max_pool_with_indices<3>(input, output_size).values;
}
}  // namespace functional

/// The N-d adaptive max pooling shared by AdaptiveMaxPool1d/2d/3d: each output cell is the max over
/// PyTorch's window [floor(i*L/out), ceil((i+1)*L/out)) along each dim.
template <std::size_t N>
class AdaptiveMaxPoolNd : public Module {
public:
    explicit AdaptiveMaxPoolNd(AdaptivePoolOptions<N> options) : options_(std::move(options)) {}
    /// Shapes: [B, C, *spatial] or [C, *spatial] -> [B, C, *output_size]
    Tensor forward(const Tensor& input) override;
    /// PyTorch's return_indices=True: the values and their flat indices within each plane (what
    /// MaxUnpool{N}d takes).
    /// Shapes: as forward; indices int64 like the values
    ValuesIndices forward_with_indices(const Tensor& input);
    std::string extra_repr() const override;
    const AdaptivePoolOptions<N>& options() const { return options_; }

protected:
    AdaptivePoolOptions<N> options_;
};

/// Max-pools [B, C, L] down to [B, C, output_size].
///
/// Example:
///     nn::AdaptiveMaxPool1d pool(nn::ExpandingArray<1>(3));
class AdaptiveMaxPool1d : public AdaptiveMaxPoolNd<1> {
    LAZYNN_MODULE(AdaptiveMaxPool1d)
public:
    explicit AdaptiveMaxPool1d(AdaptivePoolOptions<1> options) : AdaptiveMaxPoolNd<1>(std::move(options)) {
        set_name("AdaptiveMaxPool1d");
    }
};

/// Max-pools [B, C, H, W] down to [B, C, *output_size].
///
/// Example:
///     nn::AdaptiveMaxPool2d pool(nn::ExpandingArray<2>({2, 3}));
class AdaptiveMaxPool2d : public AdaptiveMaxPoolNd<2> {
    LAZYNN_MODULE(AdaptiveMaxPool2d)
public:
    explicit AdaptiveMaxPool2d(AdaptivePoolOptions<2> options) : AdaptiveMaxPoolNd<2>(std::move(options)) {
        set_name("AdaptiveMaxPool2d");
    }
};

/// Max-pools [B, C, D, H, W] down to [B, C, *output_size].
///
/// Example:
///     nn::AdaptiveMaxPool3d pool(nn::ExpandingArray<3>({1, 2, 2}));
///     nn::ValuesIndices r = pool.forward_with_indices(x);   // r.indices for MaxUnpool3d
class AdaptiveMaxPool3d : public AdaptiveMaxPoolNd<3> {
    LAZYNN_MODULE(AdaptiveMaxPool3d)
public:
    explicit AdaptiveMaxPool3d(AdaptivePoolOptions<3> options) : AdaptiveMaxPoolNd<3>(std::move(options)) {
        set_name("AdaptiveMaxPool3d");
    }
};

extern template class AdaptiveMaxPoolNd<1>;
extern template class AdaptiveMaxPoolNd<2>;
extern template class AdaptiveMaxPoolNd<3>;

}  // namespace lazynn::nn
