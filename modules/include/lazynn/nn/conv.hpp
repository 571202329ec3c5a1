#pragma once
// Convolutions: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their lazy twins (one LazyConvolution).
// The kernels are core ops (lazynn/ops/convolution.hpp): float32 on oneDNN primitives, float64 as
// im2col + an OpenBLAS GEMM per group; 1-D runs as 2-D with a unit height, 3-D as one 2-D
// convolution per depth tap (framework/src/ops/convolution3d.cpp).

#include <lazynn/arg.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/ops/convolution.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/functional.hpp>  // the functional forms (F.*)
#include <lazynn/nn/fusion.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>

namespace lazynn::nn {

/// N integers given as one (`3`, repeated) or N (`{3, 5}`).
template <std::size_t N>
struct ExpandingArray {
    ExpandingArray(std::int64_t v) : scalar(true) { values.fill(v); }  // NOLINT: implicit on purpose
    /// One value (repeated) or exactly N.
    ExpandingArray(std::initializer_list<std::int64_t> list) {
        if (list.size() == 1) {
            values.fill(*list.begin());
            scalar = true;
            return;
        }
        if (list.size() != N)
            throw ValueError("expected 1 or " + std::to_string(N) + " values, got " + std::to_string(list.size()));
        std::copy(list.begin(), list.end(), values.begin());
    }
    ExpandingArray(const std::array<std::int64_t, N>& a) : values(a) {}  // NOLINT
    std::int64_t operator[](std::size_t i) const { return values[i]; }
    std::array<std::int64_t, N> values{};
    bool scalar = false;  // given as one number (printing shows it the way it was given, like PyTorch)
};

/// PyTorch's padding="same" (output as large as the input; stride 1 only) and "valid" (none).
enum class PaddingKeyword { Same, Valid };
inline constexpr PaddingKeyword kSame = PaddingKeyword::Same;
inline constexpr PaddingKeyword kValid = PaddingKeyword::Valid;
/// "same" or "valid", as PyTorch prints it.
const char* padding_keyword_name(PaddingKeyword keyword);

/// How a convolution pads: PyTorch's padding_mode "zeros", "reflect", "replicate" or "circular".
enum class PaddingMode { Zeros, Reflect, Replicate, Circular };
/// PyTorch's string for the mode ("zeros", ...).
const char* padding_mode_name(PaddingMode mode);

/// Padding: numbers per spatial dim (one repeated, or N), or kSame / kValid.
template <std::size_t N>
struct Padding {
    Padding(std::int64_t v) : amount(v) {}                               // NOLINT
    Padding(std::initializer_list<std::int64_t> list) : amount(list) {}  // NOLINT
    Padding(PaddingKeyword k) : keyword(k) {}                            // NOLINT
    ExpandingArray<N> amount{0};
    std::optional<PaddingKeyword> keyword;  // set: use it instead of amount
};

/// A convolution's options (PyTorch's Conv2d(in_channels, out_channels, kernel_size, stride=1,
/// padding=0, dilation=1, groups=1, bias=True, padding_mode='zeros')).
template <std::size_t N>
struct ConvOptions {
    ConvOptions(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<N> kernel_size)
        : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
    LAZYNN_ARG(std::int64_t, in_channels);
    LAZYNN_ARG(std::int64_t, out_channels);
    LAZYNN_ARG(ExpandingArray<N>, kernel_size);
    LAZYNN_ARG(ExpandingArray<N>, stride){1};
    LAZYNN_ARG(Padding<N>, padding){0};
    LAZYNN_ARG(ExpandingArray<N>, dilation){1};
    LAZYNN_ARG(std::int64_t, groups) = 1;
    LAZYNN_ARG(bool, bias) = true;
    LAZYNN_ARG(PaddingMode, padding_mode) = PaddingMode::Zeros;
};
using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;
using Conv3dOptions = ConvOptions<3>;

/// A lazy convolution's options: ConvOptions without in_channels (inferred on the first forward),
/// with the same defaults, as PyTorch's LazyConv2d(out_channels, kernel_size, stride=1, ...).
template <std::size_t N>
struct LazyConvOptions {
    LazyConvOptions(std::int64_t out_channels, ExpandingArray<N> kernel_size) : conv_(0, out_channels, kernel_size) {}
    LazyConvOptions& stride(ExpandingArray<N> v) {
        conv_.stride(v);
        return *this;
    }
    LazyConvOptions& padding(Padding<N> v) {
        conv_.padding(std::move(v));
        return *this;
    }
    LazyConvOptions& dilation(ExpandingArray<N> v) {
        conv_.dilation(v);
        return *this;
    }
    LazyConvOptions& groups(std::int64_t v) {
        conv_.groups(v);
        return *this;
    }
    LazyConvOptions& bias(bool v) {
        conv_.bias(v);
        return *this;
    }
    LazyConvOptions& padding_mode(PaddingMode v) {
        conv_.padding_mode(v);
        return *this;
    }
    /// The concrete layer's options, in_channels 0 until the first forward.
    const ConvOptions<N>& conv_options() const { return conv_; }

private:
    ConvOptions<N> conv_;
};
using LazyConv1dOptions = LazyConvOptions<1>;
using LazyConv2dOptions = LazyConvOptions<2>;
using LazyConv3dOptions = LazyConvOptions<3>;

/// Shared implementation of Conv1d, Conv2d and Conv3d.
template <std::size_t N>
class ConvNd : public Module, public FusesFollowingReLU {
public:
    explicit ConvNd(ConvOptions<N> options);
    /// Shapes: input [B, C_in, *spatial] or unbatched [C_in, *spatial] -> [B, C_out, *spatial']
    Tensor forward(const Tensor& input) override { return forward_then(input, false); }
    /// relu(forward(input)) in one pass (no hooks run): Sequential's fusion of a following ReLU.
    Tensor forward_relu(const Tensor& input) override { return forward_then(input, true); }
    /// This layer's convolution (its options and padding mode) with another weight and bias, then
    /// the ReLU when `relu`; no hooks run. Sequential uses it to fold a following eval-mode batch
    /// norm into the weights.
    Tensor forward_with(const Tensor& input, const Tensor& weight, const Tensor& bias, bool relu);
    /// requires: weight and bias materialised. ensures: redrawn from the module's seed
    /// (kaiming_uniform(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))), the same values every call.
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const ConvOptions<N>& options() const { return options_; }
    std::int64_t in_channels() const { return options_.in_channels(); }
    std::int64_t out_channels() const { return options_.out_channels(); }
    static constexpr std::size_t spatial_dims = N;
    static constexpr bool is_transposed = false;

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    /// For the lazy twin: weight and bias uninitialised.
    ConvNd(ConvOptions<N> options, Uninitialized);
    /// Materialises weight [out, in/groups, *kernel] and bias [out] from the options (the lazy protocol).
    void materialize_from_options();
    void validate() const;
    Tensor forward_then(const Tensor& input, bool relu);
    ConvOptions<N> options_;
};

/// 1-D convolution over [B, C, L].
///
/// Example:
///     nn::Conv1d conv(nn::Conv1dOptions(4, 8, 3).padding(nn::kSame));   // [2, 4, 10] -> [2, 8, 10]
class Conv1d : public ConvNd<1> {
    LAZYNN_MODULE(Conv1d)
public:
    explicit Conv1d(Conv1dOptions options);
    Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : Conv1d(Conv1dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvNd<1>::ConvNd;
};

/// 2-D convolution over [B, C, H, W].
///
/// Example:
///     nn::Conv2d conv(nn::Conv2dOptions(3, 16, 3).padding(1).padding_mode(nn::PaddingMode::Reflect));
class Conv2d : public ConvNd<2>, public FoldsFollowingNormalization {
    LAZYNN_MODULE(Conv2d)
public:
    explicit Conv2d(Conv2dOptions options);
    /// Without autograd: this convolution and a following eval-mode batch norm (and ReLU) as one
    /// convolution with folded weights, when the activation saved outweighs the pass over the
    /// weights (conv_fold.cpp).
    std::optional<Tensor> forward_folded(const Tensor& input, const ChannelNormalization& norm, bool relu) override;
    Conv2d(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<2> kernel_size)
        : Conv2d(Conv2dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvNd<2>::ConvNd;
};

/// 3-D convolution over [B, C, D, H, W].
///
/// Example:
///     nn::Conv3d conv(nn::Conv3dOptions(2, 4, {3, 3, 3}).stride(2));
class Conv3d : public ConvNd<3> {
    LAZYNN_MODULE(Conv3d)
public:
    explicit Conv3d(Conv3dOptions options);
    Conv3d(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<3> kernel_size)
        : Conv3d(Conv3dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvNd<3>::ConvNd;
};

/// The lazy twin of a convolution or transposed convolution (PyTorch's _LazyConvXdMixin):
/// in_channels = input.size(1), or input.size(0) for an unbatched input, with the rank check and
/// the groups check. LazyConv1d/2d/3d and LazyConvTranspose1d/2d/3d name it.
template <class Conv>
class LazyConvolution : public Lazy<Conv> {
protected:
    using Lazy<Conv>::Lazy;
    void infer_options(const std::vector<Tensor>& inputs) override;
    /// Checks the loaded weight against out_channels, kernel_size and groups and the bias against
    /// out_channels, then sets in_channels from the weight.
    void lazy_load_finalize() override;
};

/// Conv1d whose in_channels is read from the first input (dim 1, or dim 0 when unbatched).
///
/// Example:
///     nn::LazyConv1d conv(nn::LazyConv1dOptions(8, 3).groups(2));   // first input [B, C, L] sets in_channels = C
class LazyConv1d : public LazyConvolution<Conv1d> {
    LAZYNN_MODULE(LazyConv1d)
public:
    explicit LazyConv1d(const LazyConv1dOptions& options) : LazyConvolution<Conv1d>(options.conv_options()) {}
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConv1dOptions.
    explicit LazyConv1d(Conv1dOptions options) : LazyConvolution<Conv1d>(options.in_channels(0)) {}
    LazyConv1d(std::int64_t out_channels, std::int64_t kernel_size)
        : LazyConv1d(LazyConv1dOptions(out_channels, kernel_size)) {}
};

/// Conv2d whose in_channels is read from the first input (dim 1, or dim 0 when unbatched).
///
/// Example:
///     nn::LazyConv2d conv(nn::LazyConv2dOptions(16, 3).padding(1));   // Conv2d(3, 16, ...) after a [B, 3, H, W] input
class LazyConv2d : public LazyConvolution<Conv2d> {
    LAZYNN_MODULE(LazyConv2d)
public:
    explicit LazyConv2d(const LazyConv2dOptions& options) : LazyConvolution<Conv2d>(options.conv_options()) {}
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConv2dOptions.
    explicit LazyConv2d(Conv2dOptions options) : LazyConvolution<Conv2d>(options.in_channels(0)) {}
    LazyConv2d(std::int64_t out_channels, ExpandingArray<2> kernel_size)
        : LazyConv2d(LazyConv2dOptions(out_channels, kernel_size)) {}
};

/// Conv3d whose in_channels is read from the first input (dim 1, or dim 0 when unbatched).
///
/// Example:
///     nn::LazyConv3d conv(4, 3);
class LazyConv3d : public LazyConvolution<Conv3d> {
    LAZYNN_MODULE(LazyConv3d)
public:
    explicit LazyConv3d(const LazyConv3dOptions& options) : LazyConvolution<Conv3d>(options.conv_options()) {}
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConv3dOptions.
    explicit LazyConv3d(Conv3dOptions options) : LazyConvolution<Conv3d>(options.in_channels(0)) {}
    LazyConv3d(std::int64_t out_channels, ExpandingArray<3> kernel_size)
        : LazyConv3d(LazyConv3dOptions(out_channels, kernel_size)) {}
};

/// A transposed convolution's options (PyTorch's ConvTranspose2d(in_channels, out_channels,
/// kernel_size, stride=1, padding=0, output_padding=0, groups=1, bias=True, dilation=1)).
template <std::size_t N>
struct ConvTransposeOptions {
    ConvTransposeOptions(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<N> kernel_size)
        : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
    LAZYNN_ARG(std::int64_t, in_channels);
    LAZYNN_ARG(std::int64_t, out_channels);
    LAZYNN_ARG(ExpandingArray<N>, kernel_size);
    LAZYNN_ARG(ExpandingArray<N>, stride){1};
    LAZYNN_ARG(ExpandingArray<N>, padding){0};
    LAZYNN_ARG(ExpandingArray<N>, output_padding){0};
    LAZYNN_ARG(ExpandingArray<N>, dilation){1};
    LAZYNN_ARG(std::int64_t, groups) = 1;
    LAZYNN_ARG(bool, bias) = true;
};
using ConvTranspose1dOptions = ConvTransposeOptions<1>;
using ConvTranspose2dOptions = ConvTransposeOptions<2>;
using ConvTranspose3dOptions = ConvTransposeOptions<3>;

/// A lazy transposed convolution's options: ConvTransposeOptions without in_channels.
template <std::size_t N>
struct LazyConvTransposeOptions {
    LazyConvTransposeOptions(std::int64_t out_channels, ExpandingArray<N> kernel_size)
        : conv_(0, out_channels, kernel_size) {}
    LazyConvTransposeOptions& stride(ExpandingArray<N> v) {
        conv_.stride(v);
        return *this;
    }
    LazyConvTransposeOptions& padding(ExpandingArray<N> v) {
        conv_.padding(v);
        return *this;
    }
    LazyConvTransposeOptions& output_padding(ExpandingArray<N> v) {
        conv_.output_padding(v);
        return *this;
    }
    LazyConvTransposeOptions& dilation(ExpandingArray<N> v) {
        conv_.dilation(v);
        return *this;
    }
    LazyConvTransposeOptions& groups(std::int64_t v) {
        conv_.groups(v);
        return *this;
    }
    LazyConvTransposeOptions& bias(bool v) {
        conv_.bias(v);
        return *this;
    }
    /// The concrete layer's options, in_channels 0 until the first forward.
    const ConvTransposeOptions<N>& conv_transpose_options() const { return conv_; }

private:
    ConvTransposeOptions<N> conv_;
};
using LazyConvTranspose1dOptions = LazyConvTransposeOptions<1>;
using LazyConvTranspose2dOptions = LazyConvTransposeOptions<2>;
using LazyConvTranspose3dOptions = LazyConvTransposeOptions<3>;

/// Shared implementation of ConvTranspose1d/2d/3d (zero padding only, as PyTorch).
template <std::size_t N>
class ConvTransposeNd : public Module {
public:
    explicit ConvTransposeNd(ConvTransposeOptions<N> options);
    /// Shapes: input [B, C_in, *spatial] or [C_in, *spatial] -> [B, C_out, *spatial'] with
    /// spatial' = (spatial - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    Tensor forward(const Tensor& input) override;
    /// PyTorch's forward(input, output_size): picks the output_padding that gives `output_size`
    /// (its last N entries; it may include batch and channel dims). Throws ValueError naming the
    /// valid range when the size cannot be reached.
    Tensor forward(const Tensor& input, const Shape& output_size);
    using Module::operator();
    Tensor operator()(const Tensor& input, const Shape& output_size);
    /// requires: weight and bias materialised. ensures: redrawn from the module's seed, as Conv.
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const ConvTransposeOptions<N>& options() const { return options_; }
    std::int64_t in_channels() const { return options_.in_channels(); }
    std::int64_t out_channels() const { return options_.out_channels(); }
    static constexpr std::size_t spatial_dims = N;
    static constexpr bool is_transposed = true;

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    /// For the lazy twin: weight and bias uninitialised.
    ConvTransposeNd(ConvTransposeOptions<N> options, Uninitialized);
    /// Materialises weight [in, out/groups, *kernel] and bias [out] from the options (the lazy protocol).
    void materialize_from_options();
    void validate() const;
    Tensor transposed(const Tensor& input, const std::array<std::int64_t, N>& output_padding);
    ConvTransposeOptions<N> options_;
};

/// 1-D transposed convolution.
///
/// Example:
///     nn::ConvTranspose1d up(nn::ConvTranspose1dOptions(4, 2, 3).stride(2));
class ConvTranspose1d : public ConvTransposeNd<1> {
    LAZYNN_MODULE(ConvTranspose1d)
public:
    explicit ConvTranspose1d(ConvTranspose1dOptions options);
    ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : ConvTranspose1d(ConvTranspose1dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvTransposeNd<1>::ConvTransposeNd;
};

/// 2-D transposed convolution.
///
/// Example:
///     nn::ConvTranspose2d up(nn::ConvTranspose2dOptions(8, 4, 3).stride(2).output_padding(1));   // doubles H and W
class ConvTranspose2d : public ConvTransposeNd<2> {
    LAZYNN_MODULE(ConvTranspose2d)
public:
    explicit ConvTranspose2d(ConvTranspose2dOptions options);
    ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<2> kernel_size)
        : ConvTranspose2d(ConvTranspose2dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvTransposeNd<2>::ConvTransposeNd;
};

/// 3-D transposed convolution.
///
/// Example:
///     nn::ConvTranspose3d up(2, 2, 3);
class ConvTranspose3d : public ConvTransposeNd<3> {
    LAZYNN_MODULE(ConvTranspose3d)
public:
    explicit ConvTranspose3d(ConvTranspose3dOptions options);
    ConvTranspose3d(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<3> kernel_size)
        : ConvTranspose3d(ConvTranspose3dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvTransposeNd<3>::ConvTransposeNd;
};

/// ConvTranspose1d whose in_channels is read from the first input; weight [in, out/groups, k].
///
/// Example:
///     nn::LazyConvTranspose1d up(2, 3);
class LazyConvTranspose1d : public LazyConvolution<ConvTranspose1d> {
    LAZYNN_MODULE(LazyConvTranspose1d)
public:
    explicit LazyConvTranspose1d(const LazyConvTranspose1dOptions& options)
        : LazyConvolution<ConvTranspose1d>(options.conv_transpose_options()) {}
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConvTranspose1dOptions.
    explicit LazyConvTranspose1d(ConvTranspose1dOptions options)
        : LazyConvolution<ConvTranspose1d>(options.in_channels(0)) {}
    LazyConvTranspose1d(std::int64_t out_channels, std::int64_t kernel_size)
        : LazyConvTranspose1d(LazyConvTranspose1dOptions(out_channels, kernel_size)) {}
};

/// ConvTranspose2d whose in_channels is read from the first input; weight [in, out/groups, kH, kW].
///
/// Example:
///     nn::LazyConvTranspose2d up(nn::LazyConvTranspose2dOptions(4, 3).stride(2).output_padding(1));
class LazyConvTranspose2d : public LazyConvolution<ConvTranspose2d> {
    LAZYNN_MODULE(LazyConvTranspose2d)
public:
    explicit LazyConvTranspose2d(const LazyConvTranspose2dOptions& options)
        : LazyConvolution<ConvTranspose2d>(options.conv_transpose_options()) {}
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConvTranspose2dOptions.
    explicit LazyConvTranspose2d(ConvTranspose2dOptions options)
        : LazyConvolution<ConvTranspose2d>(options.in_channels(0)) {}
    LazyConvTranspose2d(std::int64_t out_channels, ExpandingArray<2> kernel_size)
        : LazyConvTranspose2d(LazyConvTranspose2dOptions(out_channels, kernel_size)) {}
};

/// ConvTranspose3d whose in_channels is read from the first input; weight [in, out/groups, kD, kH, kW].
///
/// Example:
///     nn::LazyConvTranspose3d up(2, 3);
class LazyConvTranspose3d : public LazyConvolution<ConvTranspose3d> {
    LAZYNN_MODULE(LazyConvTranspose3d)
public:
    explicit LazyConvTranspose3d(const LazyConvTranspose3dOptions& options)
        : LazyConvolution<ConvTranspose3d>(options.conv_transpose_options()) {}
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConvTranspose3dOptions.
    explicit LazyConvTranspose3d(ConvTranspose3dOptions options)
        : LazyConvolution<ConvTranspose3d>(options.in_channels(0)) {}
    LazyConvTranspose3d(std::int64_t out_channels, ExpandingArray<3> kernel_size)
        : LazyConvTranspose3d(LazyConvTranspose3dOptions(out_channels, kernel_size)) {}
};

extern template class ConvNd<1>;
extern template class ConvNd<2>;
extern template class ConvNd<3>;
extern template class ConvTransposeNd<1>;
extern template class ConvTransposeNd<2>;
extern template class ConvTransposeNd<3>;
extern template class LazyConvolution<Conv1d>;
extern template class LazyConvolution<Conv2d>;
extern template class LazyConvolution<Conv3d>;
extern template class LazyConvolution<ConvTranspose1d>;
extern template class LazyConvolution<ConvTranspose2d>;
extern template class LazyConvolution<ConvTranspose3d>;

}  // namespace lazynn::nn
