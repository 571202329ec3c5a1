#pragma once
// Convolutions: Conv1d/2d/3d, ConvTranspose1d/2d/3d and their lazy twins.
// The kernel is im2col + one OpenBLAS GEMM per group over the whole batch (framework/src/ops/convolution.cpp);
// 1-D runs as 2-D with a unit height, 3-D as one 2-D convolution per depth tap (framework/src/ops/convolution3d.cpp).

#include <lazynn/ops/convolution.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/fusion.hpp>

#include <array>
#include <cstdint>
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
        if (list.size() != N) throw ValueError("expected 1 or " + std::to_string(N) + " values, got " + std::to_string(list.size()));
        std::copy(list.begin(), list.end(), values.begin());
    }
    ExpandingArray(const std::array<std::int64_t, N>& a) : values(a) {}  // NOLINT
    std::int64_t operator[](std::size_t i) const { return values[i]; }
    std::array<std::int64_t, N> values{};
    bool scalar = false;   // given as one number (printing shows it the way it was given, like PyTorch)
};

/// Padding: numbers per spatial dim, or "same" / "valid".
template <std::size_t N>
struct Padding {
    Padding(std::int64_t v) : amount(v) {}                                    // NOLINT
    Padding(std::initializer_list<std::int64_t> list) : amount(list) {}       // NOLINT
    Padding(const char* mode) : keyword(mode) {}                              // NOLINT
    Padding(std::string mode) : keyword(std::move(mode)) {}                   // NOLINT
    ExpandingArray<N> amount{0};
    std::string keyword;   // "" (use amount), "same" or "valid"
};

template <std::size_t N>
struct ConvOptions {
    ConvOptions(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<N> kernel_size)
        : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
    ConvOptions& stride(ExpandingArray<N> v) { stride_ = v; return *this; }
    ConvOptions& padding(Padding<N> v) { padding_ = std::move(v); return *this; }
    ConvOptions& dilation(ExpandingArray<N> v) { dilation_ = v; return *this; }
    ConvOptions& groups(std::int64_t v) { groups_ = v; return *this; }
    ConvOptions& bias(bool v) { bias_ = v; return *this; }
    /// "zeros", "reflect", "replicate" or "circular".
    ConvOptions& padding_mode(std::string v) { padding_mode_ = std::move(v); return *this; }
    std::int64_t in_channels_, out_channels_;
    ExpandingArray<N> kernel_size_;
    ExpandingArray<N> stride_{1};
    Padding<N> padding_{0};
    ExpandingArray<N> dilation_{1};
    std::int64_t groups_ = 1;
    bool bias_ = true;
    std::string padding_mode_ = "zeros";
};
using Conv1dOptions = ConvOptions<1>;
using Conv2dOptions = ConvOptions<2>;
using Conv3dOptions = ConvOptions<3>;

/// A lazy convolution's options: ConvOptions without in_channels (inferred on the first forward),
/// with the same defaults, as PyTorch's LazyConv2d(out_channels, kernel_size, stride=1, ...).
template <std::size_t N>
struct LazyConvOptions {
    LazyConvOptions(std::int64_t out_channels, ExpandingArray<N> kernel_size) : conv_(0, out_channels, kernel_size) {}
    LazyConvOptions& stride(ExpandingArray<N> v) { conv_.stride(v); return *this; }
    LazyConvOptions& padding(Padding<N> v) { conv_.padding(std::move(v)); return *this; }
    LazyConvOptions& dilation(ExpandingArray<N> v) { conv_.dilation(v); return *this; }
    LazyConvOptions& groups(std::int64_t v) { conv_.groups(v); return *this; }
    LazyConvOptions& bias(bool v) { conv_.bias(v); return *this; }
    LazyConvOptions& padding_mode(std::string v) { conv_.padding_mode(std::move(v)); return *this; }
    /// The concrete layer's options, in_channels 0 until the first forward.
    const ConvOptions<N>& conv_options() const { return conv_; }

private:
    ConvOptions<N> conv_;
};
using LazyConv1dOptions = LazyConvOptions<1>;
using LazyConv2dOptions = LazyConvOptions<2>;
using LazyConv3dOptions = LazyConvOptions<3>;

namespace functional {
/// The convolution ops of the core (lazynn/ops/convolution.hpp), under PyTorch's F.* names.
using ops::conv2d;
using ops::conv2d_relu;
using ops::conv_transpose2d;
using ops::conv3d;
using ops::conv_transpose3d;
using ops::pad;
}  // namespace functional

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
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const ConvOptions<N>& options() const { return options_; }
    std::int64_t in_channels() const { return options_.in_channels_; }
    std::int64_t out_channels() const { return options_.out_channels_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    struct Uninitialized {};
    ConvNd(ConvOptions<N> options, Uninitialized);
    void validate() const;
    Tensor forward_then(const Tensor& input, bool relu);
    ConvOptions<N> options_;
};

class Conv1d : public ConvNd<1> {
    LAZYNN_MODULE(Conv1d)
public:
    explicit Conv1d(Conv1dOptions options);
    Conv1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : Conv1d(Conv1dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvNd<1>::ConvNd;
};

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

class Conv3d : public ConvNd<3> {
    LAZYNN_MODULE(Conv3d)
public:
    explicit Conv3d(Conv3dOptions options);
    Conv3d(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<3> kernel_size)
        : Conv3d(Conv3dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvNd<3>::ConvNd;
};

/// Conv1d whose in_channels is read from the first input (dim 1, or dim 0 when unbatched).
class LazyConv1d : public Conv1d {
    LAZYNN_MODULE(LazyConv1d)
public:
    /// The older form: in_channels in the options is ignored (pass 0); prefer LazyConv1dOptions.
    explicit LazyConv1d(Conv1dOptions options);
    explicit LazyConv1d(const LazyConv1dOptions& options) : LazyConv1d(options.conv_options()) {}
    LazyConv1d(std::int64_t out_channels, std::int64_t kernel_size) : LazyConv1d(Conv1dOptions(0, out_channels, kernel_size)) {}
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

/// Conv2d whose in_channels is read from the first input (dim 1, or dim 0 when unbatched).
class LazyConv2d : public Conv2d {
    LAZYNN_MODULE(LazyConv2d)
public:
    explicit LazyConv2d(Conv2dOptions options);
    explicit LazyConv2d(const LazyConv2dOptions& options) : LazyConv2d(options.conv_options()) {}
    LazyConv2d(std::int64_t out_channels, ExpandingArray<2> kernel_size) : LazyConv2d(Conv2dOptions(0, out_channels, kernel_size)) {}
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

/// Conv3d whose in_channels is read from the first input (dim 1, or dim 0 when unbatched).
class LazyConv3d : public Conv3d {
    LAZYNN_MODULE(LazyConv3d)
public:
    explicit LazyConv3d(Conv3dOptions options);
    explicit LazyConv3d(const LazyConv3dOptions& options) : LazyConv3d(options.conv_options()) {}
    LazyConv3d(std::int64_t out_channels, ExpandingArray<3> kernel_size) : LazyConv3d(Conv3dOptions(0, out_channels, kernel_size)) {}
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

template <std::size_t N>
struct ConvTransposeOptions {
    ConvTransposeOptions(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<N> kernel_size)
        : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
    ConvTransposeOptions& stride(ExpandingArray<N> v) { stride_ = v; return *this; }
    ConvTransposeOptions& padding(ExpandingArray<N> v) { padding_ = v; return *this; }
    ConvTransposeOptions& output_padding(ExpandingArray<N> v) { output_padding_ = v; return *this; }
    ConvTransposeOptions& dilation(ExpandingArray<N> v) { dilation_ = v; return *this; }
    ConvTransposeOptions& groups(std::int64_t v) { groups_ = v; return *this; }
    ConvTransposeOptions& bias(bool v) { bias_ = v; return *this; }
    std::int64_t in_channels_, out_channels_;
    ExpandingArray<N> kernel_size_;
    ExpandingArray<N> stride_{1}, padding_{0}, output_padding_{0}, dilation_{1};
    std::int64_t groups_ = 1;
    bool bias_ = true;
};
using ConvTranspose1dOptions = ConvTransposeOptions<1>;
using ConvTranspose2dOptions = ConvTransposeOptions<2>;
using ConvTranspose3dOptions = ConvTransposeOptions<3>;

/// A lazy transposed convolution's options: ConvTransposeOptions without in_channels.
template <std::size_t N>
struct LazyConvTransposeOptions {
    LazyConvTransposeOptions(std::int64_t out_channels, ExpandingArray<N> kernel_size) : conv_(0, out_channels, kernel_size) {}
    LazyConvTransposeOptions& stride(ExpandingArray<N> v) { conv_.stride(v); return *this; }
    LazyConvTransposeOptions& padding(ExpandingArray<N> v) { conv_.padding(v); return *this; }
    LazyConvTransposeOptions& output_padding(ExpandingArray<N> v) { conv_.output_padding(v); return *this; }
    LazyConvTransposeOptions& dilation(ExpandingArray<N> v) { conv_.dilation(v); return *this; }
    LazyConvTransposeOptions& groups(std::int64_t v) { conv_.groups(v); return *this; }
    LazyConvTransposeOptions& bias(bool v) { conv_.bias(v); return *this; }
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
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const ConvTransposeOptions<N>& options() const { return options_; }
    std::int64_t in_channels() const { return options_.in_channels_; }
    std::int64_t out_channels() const { return options_.out_channels_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    struct Uninitialized {};
    ConvTransposeNd(ConvTransposeOptions<N> options, Uninitialized);
    void validate() const;
    Tensor transposed(const Tensor& input, const std::array<std::int64_t, N>& output_padding);
    ConvTransposeOptions<N> options_;
};

class ConvTranspose1d : public ConvTransposeNd<1> {
    LAZYNN_MODULE(ConvTranspose1d)
public:
    explicit ConvTranspose1d(ConvTranspose1dOptions options);
    ConvTranspose1d(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
        : ConvTranspose1d(ConvTranspose1dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvTransposeNd<1>::ConvTransposeNd;
};

class ConvTranspose2d : public ConvTransposeNd<2> {
    LAZYNN_MODULE(ConvTranspose2d)
public:
    explicit ConvTranspose2d(ConvTranspose2dOptions options);
    ConvTranspose2d(std::int64_t in_channels, std::int64_t out_channels, ExpandingArray<2> kernel_size)
        : ConvTranspose2d(ConvTranspose2dOptions(in_channels, out_channels, kernel_size)) {}

protected:
    using ConvTransposeNd<2>::ConvTransposeNd;
};

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
class LazyConvTranspose1d : public ConvTranspose1d {
    LAZYNN_MODULE(LazyConvTranspose1d)
public:
    explicit LazyConvTranspose1d(ConvTranspose1dOptions options);
    explicit LazyConvTranspose1d(const LazyConvTranspose1dOptions& options) : LazyConvTranspose1d(options.conv_transpose_options()) {}
    LazyConvTranspose1d(std::int64_t out_channels, std::int64_t kernel_size) : LazyConvTranspose1d(ConvTranspose1dOptions(0, out_channels, kernel_size)) {}
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

/// ConvTranspose2d whose in_channels is read from the first input; weight [in, out/groups, kH, kW].
class LazyConvTranspose2d : public ConvTranspose2d {
    LAZYNN_MODULE(LazyConvTranspose2d)
public:
    explicit LazyConvTranspose2d(ConvTranspose2dOptions options);
    explicit LazyConvTranspose2d(const LazyConvTranspose2dOptions& options) : LazyConvTranspose2d(options.conv_transpose_options()) {}
    LazyConvTranspose2d(std::int64_t out_channels, ExpandingArray<2> kernel_size) : LazyConvTranspose2d(ConvTranspose2dOptions(0, out_channels, kernel_size)) {}
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

/// ConvTranspose3d whose in_channels is read from the first input; weight [in, out/groups, kD, kH, kW].
class LazyConvTranspose3d : public ConvTranspose3d {
    LAZYNN_MODULE(LazyConvTranspose3d)
public:
    explicit LazyConvTranspose3d(ConvTranspose3dOptions options);
    explicit LazyConvTranspose3d(const LazyConvTranspose3dOptions& options) : LazyConvTranspose3d(options.conv_transpose_options()) {}
    LazyConvTranspose3d(std::int64_t out_channels, ExpandingArray<3> kernel_size) : LazyConvTranspose3d(ConvTranspose3dOptions(0, out_channels, kernel_size)) {}
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
};

extern template class ConvNd<1>;
extern template class ConvNd<2>;
extern template class ConvNd<3>;
extern template class ConvTransposeNd<1>;
extern template class ConvTransposeNd<2>;
extern template class ConvTransposeNd<3>;

}  // namespace lazynn::nn
