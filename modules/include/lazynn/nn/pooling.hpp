#pragma once
// Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d, LPPool1d/2d.

#include <lazynn/arg.hpp>
#include <lazynn/ops/pooling.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/functional.hpp>  // the functional forms (F.*)
#include <lazynn/nn/conv.hpp>

#include <optional>

namespace lazynn::nn {

/// Max pooling knobs; stride defaults to kernel_size, as in PyTorch. Sizes take an int (every
/// spatial dim) or one value per dim.
template <std::size_t N>
struct MaxPoolOptions {
    MaxPoolOptions(ExpandingArray<N> kernel_size)
        : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT: MaxPool2d(MaxPoolOptions<2>(2))
    LAZYNN_ARG(ExpandingArray<N>, kernel_size);
    LAZYNN_ARG(ExpandingArray<N>, stride);
    LAZYNN_ARG(ExpandingArray<N>, padding) = ExpandingArray<N>(0);
    LAZYNN_ARG(ExpandingArray<N>, dilation) = ExpandingArray<N>(1);
    /// Rounds the output size up (a last window may start in the padding or overhang the input).
    LAZYNN_ARG(bool, ceil_mode) = false;
};
using MaxPool1dOptions = MaxPoolOptions<1>;
using MaxPool2dOptions = MaxPoolOptions<2>;
using MaxPool3dOptions = MaxPoolOptions<3>;

/// Average pooling knobs; stride defaults to kernel_size, as in PyTorch.
template <std::size_t N>
struct AvgPoolOptions {
    AvgPoolOptions(ExpandingArray<N> kernel_size)
        : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT: AvgPool2d(AvgPoolOptions<2>(2))
    LAZYNN_ARG(ExpandingArray<N>, kernel_size);
    LAZYNN_ARG(ExpandingArray<N>, stride);
    LAZYNN_ARG(ExpandingArray<N>, padding) = ExpandingArray<N>(0);
    LAZYNN_ARG(bool, ceil_mode) = false;
    /// Counts padded zeros in the divisor.
    LAZYNN_ARG(bool, count_include_pad) = true;
    /// Divides every window by this instead of its size (0: not set).
    LAZYNN_ARG(std::int64_t, divisor_override) = 0;
};
using AvgPool1dOptions = AvgPoolOptions<1>;
using AvgPool2dOptions = AvgPoolOptions<2>;
using AvgPool3dOptions = AvgPoolOptions<3>;

/// Power-average pooling knobs: each window gives (sum of x^p)^(1/p). The stride defaults to the
/// kernel size (PyTorch's stride=None).
template <std::size_t N>
struct LPPoolOptions {
    LPPoolOptions(double norm_type, ExpandingArray<N> kernel_size) : norm_type_(norm_type), kernel_size_(kernel_size) {}
    LAZYNN_ARG(double, norm_type);
    LAZYNN_ARG(ExpandingArray<N>, kernel_size);
    LAZYNN_ARG(std::optional<ExpandingArray<N>>, stride);
    LAZYNN_ARG(bool, ceil_mode) = false;
};
using LPPool1dOptions = LPPoolOptions<1>;
using LPPool2dOptions = LPPoolOptions<2>;

namespace functional {
/// F.lp_pool1d / F.lp_pool2d: power-average pooling (LPPool1d/2d's forward, which calls these).
///   requires: a finite, positive norm_type (ValueError) and an input of rank N + 1 or N + 2
///             (ShapeError naming the function and the shape).
/// Shapes: [B, C, L] or [C, L] -> [B, C, L'];  [B, C, H, W] or [C, H, W] -> [B, C, H', W']
Tensor lp_pool1d(const Tensor& input, const LPPool1dOptions& options);
Tensor lp_pool2d(const Tensor& input, const LPPool2dOptions& options);
}  // namespace functional

/// The output size of an adaptive pooling layer (AdaptiveAvgPool, AdaptiveMaxPool).
template <std::size_t N>
struct AdaptivePoolOptions {
    AdaptivePoolOptions(ExpandingArray<N> output_size) : output_size_(output_size) {}  // NOLINT: implicit on purpose
    LAZYNN_ARG(ExpandingArray<N>, output_size);
};
template <std::size_t N>
using AdaptiveAvgPoolOptions = AdaptivePoolOptions<N>;
template <std::size_t N>
using AdaptiveMaxPoolOptions = AdaptivePoolOptions<N>;

/// The N-d max pooling shared by MaxPool1d/2d/3d (which only name it).
template <std::size_t N>
class MaxPoolNd : public Module {
public:
    explicit MaxPoolNd(MaxPoolOptions<N> options) : options_(std::move(options)) {}
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *spatial']
    Tensor forward(const Tensor& input) override;
    /// PyTorch's return_indices=True.
    ValuesIndices forward_with_indices(const Tensor& input);
    std::string extra_repr() const override;
    const MaxPoolOptions<N>& options() const { return options_; }

protected:
    MaxPoolOptions<N> options_;
};

/// The N-d average pooling shared by AvgPool1d/2d/3d.
template <std::size_t N>
class AvgPoolNd : public Module {
public:
    explicit AvgPoolNd(AvgPoolOptions<N> options) : options_(std::move(options)) {}
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *spatial']
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const AvgPoolOptions<N>& options() const { return options_; }

protected:
    AvgPoolOptions<N> options_;
};

/// The N-d adaptive average pooling shared by AdaptiveAvgPool1d/2d/3d: each output cell averages
/// the input window PyTorch assigns it (start floor(i*in/out), end ceil((i+1)*in/out)).
template <std::size_t N>
class AdaptiveAvgPoolNd : public Module {
public:
    explicit AdaptiveAvgPoolNd(AdaptivePoolOptions<N> options) : options_(std::move(options)) {}
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *output_size]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const AdaptivePoolOptions<N>& options() const { return options_; }

protected:
    AdaptivePoolOptions<N> options_;
};

/// The power-average pooling shared by LPPool1d/2d, PyTorch's formula: with s the average of x^p
/// over each window (no padding), sign(s) * relu(|s|) * window size, to the power 1/p. p = 1 is sum
/// pooling; p = inf is not accepted (PyTorch gives NaN or max pooling by accident).
template <std::size_t N>
class LPPoolNd : public Module {
public:
    /// Throws ValueError for a norm_type that is not finite and positive.
    explicit LPPoolNd(LPPoolOptions<N> options);
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *spatial']
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;
    const LPPoolOptions<N>& options() const { return options_; }

protected:
    LPPoolOptions<N> options_;
};

/// 1-d power-average pooling over [B, C, L] or [C, L].
///
/// Example:
///     nn::LPPool1d pool(nn::LPPool1dOptions(2.0, 3).stride(2));   // L2 norm of each window of 3
class LPPool1d : public LPPoolNd<1> {
    LAZYNN_MODULE(LPPool1d)
public:
    explicit LPPool1d(LPPoolOptions<1> options) : LPPoolNd<1>(std::move(options)) { set_name("LPPool1d"); }
};

/// 2-d power-average pooling over [B, C, H, W] or [C, H, W].
///
/// Example:
///     nn::LPPool2d pool(nn::LPPool2dOptions(1.5, {3, 2}));
class LPPool2d : public LPPoolNd<2> {
    LAZYNN_MODULE(LPPool2d)
public:
    explicit LPPool2d(LPPoolOptions<2> options) : LPPoolNd<2>(std::move(options)) { set_name("LPPool2d"); }
};

/// 1-d max pooling over [B, C, L] or [C, L].
///
/// Example:
///     nn::MaxPool1d pool(nn::MaxPool1dOptions(3).stride(2));
class MaxPool1d : public MaxPoolNd<1> {
    LAZYNN_MODULE(MaxPool1d)
public:
    explicit MaxPool1d(MaxPoolOptions<1> options) : MaxPoolNd<1>(std::move(options)) { set_name("MaxPool1d"); }
};

/// 2-d max pooling over [B, C, H, W] or [C, H, W].
///
/// Example:
///     nn::MaxPool2d pool(nn::MaxPool2dOptions(2));                 // 2x2 windows, stride 2
///     nn::MaxPool2d overlap(nn::MaxPool2dOptions(3).stride(2).padding(1));
class MaxPool2d : public MaxPoolNd<2> {
    LAZYNN_MODULE(MaxPool2d)
public:
    explicit MaxPool2d(MaxPoolOptions<2> options) : MaxPoolNd<2>(std::move(options)) { set_name("MaxPool2d"); }
};

/// 3-d max pooling over [B, C, D, H, W] or [C, D, H, W].
///
/// Example:
///     nn::MaxPool3d pool(nn::MaxPool3dOptions({2, 2, 1}));
class MaxPool3d : public MaxPoolNd<3> {
    LAZYNN_MODULE(MaxPool3d)
public:
    explicit MaxPool3d(MaxPoolOptions<3> options) : MaxPoolNd<3>(std::move(options)) { set_name("MaxPool3d"); }
};

/// 1-d average pooling over [B, C, L] or [C, L].
///
/// Example:
///     nn::AvgPool1d pool(nn::AvgPool1dOptions(2).padding(1));
class AvgPool1d : public AvgPoolNd<1> {
    LAZYNN_MODULE(AvgPool1d)
public:
    explicit AvgPool1d(AvgPoolOptions<1> options) : AvgPoolNd<1>(std::move(options)) { set_name("AvgPool1d"); }
};

/// 2-d average pooling over [B, C, H, W] or [C, H, W].
///
/// Example:
///     nn::AvgPool2d pool(nn::AvgPool2dOptions(3).stride(2).count_include_pad(false));
class AvgPool2d : public AvgPoolNd<2> {
    LAZYNN_MODULE(AvgPool2d)
public:
    explicit AvgPool2d(AvgPoolOptions<2> options) : AvgPoolNd<2>(std::move(options)) { set_name("AvgPool2d"); }
};

/// 3-d average pooling over [B, C, D, H, W] or [C, D, H, W].
///
/// Example:
///     nn::AvgPool3d pool(nn::AvgPool3dOptions(2));
class AvgPool3d : public AvgPoolNd<3> {
    LAZYNN_MODULE(AvgPool3d)
public:
    explicit AvgPool3d(AvgPoolOptions<3> options) : AvgPoolNd<3>(std::move(options)) { set_name("AvgPool3d"); }
};

/// Averages [B, C, L] down to [B, C, output_size].
///
/// Example:
///     nn::AdaptiveAvgPool1d pool(nn::ExpandingArray<1>(4));
class AdaptiveAvgPool1d : public AdaptiveAvgPoolNd<1> {
    LAZYNN_MODULE(AdaptiveAvgPool1d)
public:
    explicit AdaptiveAvgPool1d(AdaptivePoolOptions<1> options) : AdaptiveAvgPoolNd<1>(std::move(options)) {
        set_name("AdaptiveAvgPool1d");
    }
};

/// Averages [B, C, H, W] down to [B, C, *output_size] (global average pooling with {1, 1}).
///
/// Example:
///     nn::AdaptiveAvgPool2d gap(nn::ExpandingArray<2>({1, 1}));
class AdaptiveAvgPool2d : public AdaptiveAvgPoolNd<2> {
    LAZYNN_MODULE(AdaptiveAvgPool2d)
public:
    explicit AdaptiveAvgPool2d(AdaptivePoolOptions<2> options) : AdaptiveAvgPoolNd<2>(std::move(options)) {
        set_name("AdaptiveAvgPool2d");
    }
};

/// Averages [B, C, D, H, W] down to [B, C, *output_size].
///
/// Example:
///     nn::AdaptiveAvgPool3d pool(nn::ExpandingArray<3>({2, 3, 2}));
class AdaptiveAvgPool3d : public AdaptiveAvgPoolNd<3> {
    LAZYNN_MODULE(AdaptiveAvgPool3d)
public:
    explicit AdaptiveAvgPool3d(AdaptivePoolOptions<3> options) : AdaptiveAvgPoolNd<3>(std::move(options)) {
        set_name("AdaptiveAvgPool3d");
    }
};

extern template class MaxPoolNd<1>;
extern template class MaxPoolNd<2>;
extern template class MaxPoolNd<3>;
extern template class AvgPoolNd<1>;
extern template class AvgPoolNd<2>;
extern template class AvgPoolNd<3>;
extern template class AdaptiveAvgPoolNd<1>;
extern template class AdaptiveAvgPoolNd<2>;
extern template class AdaptiveAvgPoolNd<3>;

}  // namespace lazynn::nn
