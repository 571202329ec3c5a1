#pragma once
// Layers that rearrange or resample: Unflatten, PixelShuffle, ZeroPad2d, ConstantPad1d/2d,
// Upsample (nearest, bilinear), AdaptiveMaxPool1d/2d; and the channel dropouts Dropout1d/2d/3d
// and AlphaDropout.

#include <lazynn/module.hpp>
#include <lazynn/nn/conv.hpp>

#include <string>
#include <vector>

namespace lazynn::nn {

/// Splits dim into `sizes`. Shapes: [*, prod(sizes), *] -> [*, *sizes, *]
class Unflatten : public Module {
    LAZYNN_MODULE(Unflatten)
public:
    Unflatten(std::int64_t dim, Shape sizes);
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

private:
    std::int64_t dim_;
    Shape sizes_;
};

/// Shapes: [*, C*r*r, H, W] -> [*, C, H*r, W*r]
class PixelShuffle : public Module {
    LAZYNN_MODULE(PixelShuffle)
public:
    explicit PixelShuffle(std::int64_t upscale_factor);
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override { return "upscale_factor=" + std::to_string(factor_); }

private:
    std::int64_t factor_;
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

class ConstantPad1d : public ConstantPadNd {
    LAZYNN_MODULE(ConstantPad1d)
public:
    ConstantPad1d(ExpandingArray<2> padding, double value) : ConstantPadNd({padding[0], padding[1]}, value, "ConstantPad1d") {}
};

class ConstantPad2d : public ConstantPadNd {
    LAZYNN_MODULE(ConstantPad2d)
public:
    ConstantPad2d(ExpandingArray<4> padding, double value) : ConstantPadNd({padding[0], padding[1], padding[2], padding[3]}, value, "ConstantPad2d") {}
};

class ZeroPad2d : public ConstantPadNd {
    LAZYNN_MODULE(ZeroPad2d)
public:
    explicit ZeroPad2d(ExpandingArray<4> padding) : ConstantPadNd({padding[0], padding[1], padding[2], padding[3]}, 0.0, "ZeroPad2d") {}
    std::string extra_repr() const override;
};

/// "nearest" or "bilinear" (align_corners false), by scale_factor or output size.
class Upsample : public Module {
    LAZYNN_MODULE(Upsample)
public:
    /// Shapes: [N, C, H, W] -> [N, C, H*scale, W*scale]
    explicit Upsample(double scale_factor, std::string mode = "nearest");
    Upsample(std::array<std::int64_t, 2> size, std::string mode = "nearest");
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

private:
    double scale_ = 0;
    std::array<std::int64_t, 2> size_{0, 0};
    std::string mode_;
};

template <std::size_t N>
class AdaptiveMaxPoolNd : public Module {
public:
    explicit AdaptiveMaxPoolNd(ExpandingArray<N> output_size);
    /// Shapes: [B, C, *spatial] or [C, *spatial] -> [B, C, *output_size]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

protected:
    ExpandingArray<N> output_size_;
};

class AdaptiveMaxPool1d : public AdaptiveMaxPoolNd<1> {
    LAZYNN_MODULE(AdaptiveMaxPool1d)
public:
    explicit AdaptiveMaxPool1d(ExpandingArray<1> output_size) : AdaptiveMaxPoolNd<1>(output_size) { set_name("AdaptiveMaxPool1d"); }
};

class AdaptiveMaxPool2d : public AdaptiveMaxPoolNd<2> {
    LAZYNN_MODULE(AdaptiveMaxPool2d)
public:
    explicit AdaptiveMaxPool2d(ExpandingArray<2> output_size) : AdaptiveMaxPoolNd<2>(output_size) { set_name("AdaptiveMaxPool2d"); }
};

/// Zeroes whole channels (dim 1) with probability p while training, scaling the rest by 1/(1-p).
class ChannelDropout : public Module {
public:
    /// Shapes: [N, C, *] -> same
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

protected:
    ChannelDropout(double p, std::int64_t spatial_dims, const char* name);
    double p_;
    std::int64_t spatial_dims_;
};

#define LAZYNN_CHANNEL_DROPOUT(Class, Dims)                                                 \
    class Class : public ChannelDropout {                                                  \
        LAZYNN_MODULE(Class)                                                               \
    public:                                                                                \
        explicit Class(double p = 0.5) : ChannelDropout(p, Dims, #Class) {}                \
    }
LAZYNN_CHANNEL_DROPOUT(Dropout1d, 1);
LAZYNN_CHANNEL_DROPOUT(Dropout2d, 2);
LAZYNN_CHANNEL_DROPOUT(Dropout3d, 3);
#undef LAZYNN_CHANNEL_DROPOUT

/// Dropout that keeps SELU's self-normalising mean and variance (Klambauer et al.).
class AlphaDropout : public Module {
    LAZYNN_MODULE(AlphaDropout)
public:
    explicit AlphaDropout(double p = 0.5);
    /// Shapes: [*] -> [*]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

private:
    double p_;
};

extern template class AdaptiveMaxPoolNd<1>;
extern template class AdaptiveMaxPoolNd<2>;

}  // namespace lazynn::nn
