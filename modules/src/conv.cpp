// Conv1d/2d/3d and ConvTranspose1d/2d/3d modules and their lazy twins.
#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/conv.hpp>

#include <cmath>

namespace lazynn::nn {

namespace {

template <std::size_t N>
std::string tuple_string(const ExpandingArray<N>& a) {
    std::string s = "(";
    for (std::size_t i = 0; i < N; ++i) s += (i ? ", " : "") + std::to_string(a[i]);
    return s + (N == 1 ? ",)" : ")");
}

template <std::size_t N>
const char* conv_name() {
    return N == 1 ? "Conv1d" : N == 2 ? "Conv2d" : "Conv3d";
}

}  // namespace

template <std::size_t N>
ConvNd<N>::ConvNd(ConvOptions<N> options) : options_(std::move(options)) {
    set_name(conv_name<N>());
    validate();
    if (options_.in_channels_ % options_.groups_ != 0) throw ValueError("in_channels must be divisible by groups");
    Shape wshape{options_.out_channels_, options_.in_channels_ / options_.groups_};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(options_.kernel_size_[i]);
    weight = Parameter(empty(wshape));
    if (options_.bias_) bias = Parameter(empty({options_.out_channels_}));
    reset_parameters();
}

template <std::size_t N>
ConvNd<N>::ConvNd(ConvOptions<N> options, Uninitialized) : options_(std::move(options)) {
    validate();
    weight = UninitializedParameter();
    if (options_.bias_) bias = UninitializedParameter();
}

template <std::size_t N>
void ConvNd<N>::validate() const {
    const auto& o = options_;
    if (o.groups_ <= 0) throw ValueError("groups must be a positive integer");
    if (o.out_channels_ % o.groups_ != 0) throw ValueError("out_channels must be divisible by groups");
    const std::string& k = o.padding_.keyword;
    if (!k.empty() && k != "same" && k != "valid") throw ValueError("Invalid padding string '" + k + "', should be one of {'valid', 'same'}");
    if (k == "same") {
        for (std::size_t i = 0; i < N; ++i) {
            if (o.stride_[i] != 1) throw ValueError("padding='same' is not supported for strided convolutions");
        }
    }
    const std::string& m = o.padding_mode_;
    if (m != "zeros" && m != "reflect" && m != "replicate" && m != "circular") {
        throw ValueError("padding_mode must be one of ['zeros', 'reflect', 'replicate', 'circular'], but got padding_mode='" + m + "'");
    }
    for (std::size_t i = 0; i < N; ++i) {
        if (o.kernel_size_[i] <= 0 || o.stride_[i] <= 0 || o.dilation_[i] <= 0) {
            throw ValueError(std::string(conv_name<N>()) + ": kernel_size, stride and dilation must be positive");
        }
    }
}

template <std::size_t N>
void ConvNd<N>::reset_parameters() {
    Generator gen = init_generator();
    init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
    if (bias.defined()) {
        const auto fan_in = init::calculate_fan_in_and_fan_out(weight).first;
        const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
        init::uniform_(bias, -bound, bound, gen);
    }
}

template <std::size_t N>
Tensor ConvNd<N>::forward_then(const Tensor& input_given, bool relu) {
    return forward_with(input_given, weight, bias, relu);
}

template <std::size_t N>
Tensor ConvNd<N>::forward_with(const Tensor& input_given, const Tensor& weight, const Tensor& bias, bool relu) {
    this->check_input_dtype(input_given, weight);
    const auto& o = options_;
    const auto batched_rank = static_cast<std::int64_t>(N) + 2;
    if (input_given.dim() != batched_rank && input_given.dim() != batched_rank - 1) {
        throw ShapeError("Expected " + std::to_string(batched_rank - 1) + "D (unbatched) or " + std::to_string(batched_rank) +
                         "D (batched) input to " + name() + ", but got input of size: " + shape_to_list(input_given.shape()));
    }
    ops::check_conv_bias(weight, bias, o.groups_, false, conv_name<N>());
    const bool unbatched = input_given.dim() == batched_rank - 1;
    Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    if (input.size(1) != o.in_channels_) {
        Shape expected = input.shape();
        expected[1] = o.in_channels_;
        throw ShapeError(name() + "(" + extra_repr() + "): Given groups=" + std::to_string(o.groups_) + ", weight of size " +
                         shape_to_list(weight.shape()) + ", expected input" + shape_to_list(input.shape()) + " to have " +
                         std::to_string(o.in_channels_) + " channels, but got " + std::to_string(input.size(1)) + " channels instead");
    }
    // Spatial padding per dim: begin and end.
    std::array<std::int64_t, N> begin{}, end{};
    for (std::size_t i = 0; i < N; ++i) {
        if (o.padding_.keyword == "same") {
            const std::int64_t total = o.dilation_[i] * (o.kernel_size_[i] - 1);
            begin[i] = total / 2;
            end[i] = total - begin[i];
        } else if (o.padding_.keyword.empty()) {
            begin[i] = end[i] = o.padding_.amount[i];
        }
    }
    if (o.padding_mode_ != "zeros") {
        std::vector<std::int64_t> pads;   // last dim first, as F.pad takes them
        for (std::size_t i = N; i-- > 0;) {
            pads.push_back(begin[i]);
            pads.push_back(end[i]);
        }
        input = functional::pad(input, pads, o.padding_mode_);
        begin.fill(0);
        end.fill(0);
    }
    Tensor out;
    const auto conv2d = relu ? functional::conv2d_relu : functional::conv2d;
    if constexpr (N == 3) {
        out = functional::conv3d(input, weight, bias, o.stride_.values, {begin[0], end[0], begin[1], end[1], begin[2], end[2]},
                                 o.dilation_.values, o.groups_);
        if (relu) out = out.relu();
    } else if constexpr (N == 2) {
        out = conv2d(input, weight, bias, {o.stride_[0], o.stride_[1]}, {begin[0], end[0], begin[1], end[1]}, {o.dilation_[0], o.dilation_[1]},
                     o.groups_);
    } else {
        out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, {1, o.stride_[0]}, {0, 0, begin[0], end[0]}, {1, o.dilation_[0]}, o.groups_)
                  .squeeze(2);
    }
    return unbatched ? out.squeeze(0) : out;
}

template <std::size_t N>
std::string ConvNd<N>::extra_repr() const {
    const auto& o = options_;
    std::string s = std::to_string(o.in_channels_) + ", " + std::to_string(o.out_channels_) + ", kernel_size=" + tuple_string<N>(o.kernel_size_) +
                    ", stride=" + tuple_string<N>(o.stride_);
    if (!o.padding_.keyword.empty()) {
        s += ", padding=" + o.padding_.keyword;
    } else {
        bool nonzero = false;
        for (std::size_t i = 0; i < N; ++i) nonzero = nonzero || o.padding_.amount[i] != 0;
        if (nonzero) s += ", padding=" + tuple_string<N>(o.padding_.amount);
    }
    bool dilated = false;
    for (std::size_t i = 0; i < N; ++i) dilated = dilated || o.dilation_[i] != 1;
    if (dilated) s += ", dilation=" + tuple_string<N>(o.dilation_);
    if (o.groups_ != 1) s += ", groups=" + std::to_string(o.groups_);
    if (!o.bias_) s += ", bias=False";
    if (o.padding_mode_ != "zeros") s += ", padding_mode=" + o.padding_mode_;
    return s;
}

template class ConvNd<1>;
template class ConvNd<2>;
template class ConvNd<3>;

Conv1d::Conv1d(Conv1dOptions options) : ConvNd<1>(std::move(options)) {}
Conv2d::Conv2d(Conv2dOptions options) : ConvNd<2>(std::move(options)) {}
Conv3d::Conv3d(Conv3dOptions options) : ConvNd<3>(std::move(options)) {}

namespace {

/// PyTorch's _LazyConvXdMixin: infer in_channels (with the rank check and the groups check),
/// materialise the weight ([out, in/groups, *kernel], or [in, out/groups, *kernel] when
/// transposed) and the bias, then initialise.
template <std::size_t N, class Conv, class Options>
void lazy_conv_initialize(Conv& conv, Options& o, const std::vector<Tensor>& inputs, const char* lazy_name, bool transposed) {
    if (inputs.empty()) throw TypeError(std::string(lazy_name) + ".initialize_parameters() missing 1 required positional argument: 'input'");
    if (!conv.has_uninitialized_params()) return;
    const Tensor& input = inputs[0];
    const auto batched_rank = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched_rank && input.dim() != batched_rank - 1) {
        throw RuntimeError("Expected " + std::to_string(batched_rank - 1) + "D (unbatched) or " + std::to_string(batched_rank) +
                           "D (batched) input to " + lazy_name + ", but got input of size: " + shape_to_list(input.shape()));
    }
    o.in_channels_ = input.dim() == batched_rank ? input.size(1) : input.size(0);
    if (o.in_channels_ % o.groups_ != 0) throw ValueError("in_channels must be divisible by groups");
    NoGradGuard no_grad;
    Shape wshape = transposed ? Shape{o.in_channels_, o.out_channels_ / o.groups_} : Shape{o.out_channels_, o.in_channels_ / o.groups_};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(o.kernel_size_[i]);
    if (Module::is_lazy(conv.weight)) conv.weight.materialize(wshape);
    if (Module::is_lazy(conv.bias)) conv.bias.materialize({o.out_channels_});
    conv.reset_parameters();
}

/// Checks a lazy convolution's weight and bias as materialised from a checkpoint against its
/// options (out_channels, kernel_size, groups) before they fix in_channels: each was created from
/// its own stored shape, and the kernels trust them to agree.
template <std::size_t N, class Conv, class Options>
void check_loaded_conv(const Conv& conv, const Options& o, const char* lazy_name, bool transposed) {
    const Shape& w = conv.weight.shape();
    Shape expected = transposed ? Shape{-1, o.out_channels_ / o.groups_} : Shape{o.out_channels_, -1};
    for (std::size_t i = 0; i < N; ++i) expected.push_back(o.kernel_size_[i]);
    bool ok = w.size() == expected.size();
    for (std::size_t i = 0; ok && i < w.size(); ++i) ok = expected[i] == -1 ? w[i] > 0 : w[i] == expected[i];
    if (ok && transposed) ok = w[0] % o.groups_ == 0;   // in_channels splits into the groups
    if (!ok) {
        std::string want = shape_to_list(expected);
        want.replace(want.find("-1"), 2, transposed ? "in_channels" : "in_channels/groups");
        throw RuntimeError(std::string(lazy_name) + ": the loaded weight has shape " + shape_to_list(w) + ", but this module expects " + want);
    }
    if (Module::is_lazy(conv.bias) || !conv.bias.defined()) return;
    if (conv.bias.shape() != Shape{o.out_channels_}) {
        throw RuntimeError(std::string(lazy_name) + ": the loaded bias has shape " + shape_to_list(conv.bias.shape()) + ", but out_channels is " +
                           std::to_string(o.out_channels_) + " (expected [" + std::to_string(o.out_channels_) + "])");
    }
}

}  // namespace

LazyConv1d::LazyConv1d(Conv1dOptions options) : Conv1d((options.in_channels_ = 0, options), Uninitialized{}) {
    set_name("LazyConv1d");
    make_lazy("Conv1d");
}
void LazyConv1d::initialize_parameters(const std::vector<Tensor>& inputs) { lazy_conv_initialize<1>(*this, options_, inputs, "LazyConv1d", false); }
void LazyConv1d::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_channels_ != 0) Conv1d::reset_parameters();
}
void LazyConv1d::lazy_load_finalize() {
    check_loaded_conv<1>(*this, options_, "LazyConv1d", false);
    options_.in_channels_ = weight.size(1) * options_.groups_;
}

LazyConv2d::LazyConv2d(Conv2dOptions options) : Conv2d((options.in_channels_ = 0, options), Uninitialized{}) {
    set_name("LazyConv2d");
    make_lazy("Conv2d");
}
void LazyConv2d::initialize_parameters(const std::vector<Tensor>& inputs) { lazy_conv_initialize<2>(*this, options_, inputs, "LazyConv2d", false); }
void LazyConv2d::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_channels_ != 0) Conv2d::reset_parameters();
}
void LazyConv2d::lazy_load_finalize() {
    check_loaded_conv<2>(*this, options_, "LazyConv2d", false);
    options_.in_channels_ = weight.size(1) * options_.groups_;
}

LazyConv3d::LazyConv3d(Conv3dOptions options) : Conv3d((options.in_channels_ = 0, options), Uninitialized{}) {
    set_name("LazyConv3d");
    make_lazy("Conv3d");
}
void LazyConv3d::initialize_parameters(const std::vector<Tensor>& inputs) { lazy_conv_initialize<3>(*this, options_, inputs, "LazyConv3d", false); }
void LazyConv3d::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_channels_ != 0) Conv3d::reset_parameters();
}
void LazyConv3d::lazy_load_finalize() {
    check_loaded_conv<3>(*this, options_, "LazyConv3d", false);
    options_.in_channels_ = weight.size(1) * options_.groups_;
}

// ---- transposed convolutions ----

template <std::size_t N>
ConvTransposeNd<N>::ConvTransposeNd(ConvTransposeOptions<N> options) : options_(std::move(options)) {
    set_name(N == 1 ? "ConvTranspose1d" : N == 2 ? "ConvTranspose2d" : "ConvTranspose3d");
    validate();
    if (options_.in_channels_ % options_.groups_ != 0) throw ValueError("in_channels must be divisible by groups");
    Shape wshape{options_.in_channels_, options_.out_channels_ / options_.groups_};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(options_.kernel_size_[i]);
    weight = Parameter(empty(wshape));
    if (options_.bias_) bias = Parameter(empty({options_.out_channels_}));
    reset_parameters();
}

template <std::size_t N>
ConvTransposeNd<N>::ConvTransposeNd(ConvTransposeOptions<N> options, Uninitialized) : options_(std::move(options)) {
    validate();
    weight = UninitializedParameter();
    if (options_.bias_) bias = UninitializedParameter();
}

template <std::size_t N>
void ConvTransposeNd<N>::validate() const {
    const auto& o = options_;
    if (o.groups_ <= 0) throw ValueError("groups must be a positive integer");
    if (o.out_channels_ % o.groups_ != 0) throw ValueError("out_channels must be divisible by groups");
    for (std::size_t i = 0; i < N; ++i) {
        if (o.output_padding_[i] >= std::max(o.stride_[i], o.dilation_[i])) {
            throw ValueError("output padding must be smaller than either stride or dilation, but got output_padding=" +
                             std::to_string(o.output_padding_[i]) + ", stride=" + std::to_string(o.stride_[i]) +
                             ", dilation=" + std::to_string(o.dilation_[i]));
        }
    }
}

template <std::size_t N>
void ConvTransposeNd<N>::reset_parameters() {
    // PyTorch initialises transposed convolutions like convolutions; fan_in comes from weight.size(1).
    Generator gen = init_generator();
    init::kaiming_uniform_(weight, std::sqrt(5.0), init::FanMode::FanIn, init::Nonlinearity::LeakyReLU, gen);
    if (bias.defined()) {
        const auto fan_in = init::calculate_fan_in_and_fan_out(weight).first;
        const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
        init::uniform_(bias, -bound, bound, gen);
    }
}

template <std::size_t N>
Tensor ConvTransposeNd<N>::forward(const Tensor& input) {
    return transposed(input, options_.output_padding_.values);
}

template <std::size_t N>
Tensor ConvTransposeNd<N>::operator()(const Tensor& input, const Shape& output_size) {
    return call_with_hooks({input}, [&](const std::vector<Tensor>& in) { return forward(in[0], output_size); });
}

template <std::size_t N>
Tensor ConvTransposeNd<N>::forward(const Tensor& input, const Shape& output_size) {
    // PyTorch's _output_padding: the output_padding that makes each spatial size what was asked.
    const auto& o = options_;
    const auto spatial = static_cast<std::int64_t>(N);
    const std::int64_t leading = input.dim() == spatial + 2 ? 2 : 1;
    Shape wanted = output_size;
    if (static_cast<std::int64_t>(wanted.size()) == leading + spatial) wanted.erase(wanted.begin(), wanted.begin() + leading);
    if (static_cast<std::int64_t>(wanted.size()) != spatial) {
        throw ValueError(name() + ": for " + std::to_string(input.dim()) + "D input, output_size must have " + std::to_string(spatial) +
                         " or " + std::to_string(spatial + leading) + " elements (got " + std::to_string(output_size.size()) + ")");
    }
    Shape min_sizes, max_sizes;
    for (std::size_t d = 0; d < N; ++d) {
        const std::int64_t in = input.size(static_cast<std::int64_t>(d) + leading);
        min_sizes.push_back((in - 1) * o.stride_[d] - 2 * o.padding_[d] + o.dilation_[d] * (o.kernel_size_[d] - 1) + 1);
        max_sizes.push_back(min_sizes.back() + o.stride_[d] - 1);
    }
    std::array<std::int64_t, N> output_padding{};
    for (std::size_t d = 0; d < N; ++d) {
        if (wanted[d] < min_sizes[d] || wanted[d] > max_sizes[d]) {
            const Shape& s = input.shape();
            throw ValueError(name() + ": requested an output size of " + shape_to_list(wanted) + ", but valid sizes range from " +
                             shape_to_list(min_sizes) + " to " + shape_to_list(max_sizes) + " (for an input of " +
                             shape_to_list(Shape(s.end() - spatial, s.end())) + ")");
        }
        output_padding[d] = wanted[d] - min_sizes[d];
    }
    return transposed(input, output_padding);
}

template <std::size_t N>
Tensor ConvTransposeNd<N>::transposed(const Tensor& input_given, const std::array<std::int64_t, N>& output_padding) {
    this->check_input_dtype(input_given, weight);
    const auto& o = options_;
    const auto batched_rank = static_cast<std::int64_t>(N) + 2;
    if (input_given.dim() != batched_rank && input_given.dim() != batched_rank - 1) {
        throw ShapeError("Expected " + std::to_string(batched_rank - 1) + "D (unbatched) or " + std::to_string(batched_rank) +
                         "D (batched) input to " + name() + ", but got input of size: " + shape_to_list(input_given.shape()));
    }
    ops::check_conv_bias(weight, bias, o.groups_, true, name().c_str());
    const bool unbatched = input_given.dim() == batched_rank - 1;
    const Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    if (input.size(1) != o.in_channels_) {
        throw ShapeError(name() + "(" + extra_repr() + "): Given transposed=1, weight of size " + shape_to_list(weight.shape()) +
                         ", expected input" + shape_to_list(input.shape()) + " to have " + std::to_string(o.in_channels_) +
                         " channels, but got " + std::to_string(input.size(1)) + " channels instead");
    }
    Tensor out;
    if constexpr (N == 3) {
        out = functional::conv_transpose3d(input, weight, bias, o.stride_.values, o.padding_.values, output_padding, o.dilation_.values,
                                           o.groups_);
    } else if constexpr (N == 2) {
        out = functional::conv_transpose2d(input, weight, bias, {o.stride_[0], o.stride_[1]}, {o.padding_[0], o.padding_[1]},
                                           {output_padding[0], output_padding[1]}, {o.dilation_[0], o.dilation_[1]}, o.groups_);
    } else {
        out = functional::conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias, {1, o.stride_[0]}, {0, o.padding_[0]},
                                           {0, output_padding[0]}, {1, o.dilation_[0]}, o.groups_)
                  .squeeze(2);
    }
    return unbatched ? out.squeeze(0) : out;
}

template <std::size_t N>
std::string ConvTransposeNd<N>::extra_repr() const {
    const auto& o = options_;
    std::string s = std::to_string(o.in_channels_) + ", " + std::to_string(o.out_channels_) + ", kernel_size=" + tuple_string<N>(o.kernel_size_) +
                    ", stride=" + tuple_string<N>(o.stride_);
    auto any = [](const ExpandingArray<N>& a, std::int64_t v) {
        for (std::size_t i = 0; i < N; ++i) {
            if (a[i] != v) return true;
        }
        return false;
    };
    if (any(o.padding_, 0)) s += ", padding=" + tuple_string<N>(o.padding_);
    if (any(o.dilation_, 1)) s += ", dilation=" + tuple_string<N>(o.dilation_);
    if (any(o.output_padding_, 0)) s += ", output_padding=" + tuple_string<N>(o.output_padding_);
    if (o.groups_ != 1) s += ", groups=" + std::to_string(o.groups_);
    if (!o.bias_) s += ", bias=False";
    return s;
}

template class ConvTransposeNd<1>;
template class ConvTransposeNd<2>;
template class ConvTransposeNd<3>;

ConvTranspose1d::ConvTranspose1d(ConvTranspose1dOptions options) : ConvTransposeNd<1>(std::move(options)) {}
ConvTranspose2d::ConvTranspose2d(ConvTranspose2dOptions options) : ConvTransposeNd<2>(std::move(options)) {}
ConvTranspose3d::ConvTranspose3d(ConvTranspose3dOptions options) : ConvTransposeNd<3>(std::move(options)) {}

LazyConvTranspose1d::LazyConvTranspose1d(ConvTranspose1dOptions options) : ConvTranspose1d((options.in_channels_ = 0, options), Uninitialized{}) {
    set_name("LazyConvTranspose1d");
    make_lazy("ConvTranspose1d");
}
void LazyConvTranspose1d::initialize_parameters(const std::vector<Tensor>& inputs) {
    lazy_conv_initialize<1>(*this, options_, inputs, "LazyConvTranspose1d", true);
}
void LazyConvTranspose1d::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_channels_ != 0) ConvTranspose1d::reset_parameters();
}
void LazyConvTranspose1d::lazy_load_finalize() {
    check_loaded_conv<1>(*this, options_, "LazyConvTranspose1d", true);
    options_.in_channels_ = weight.size(0);
}

LazyConvTranspose2d::LazyConvTranspose2d(ConvTranspose2dOptions options) : ConvTranspose2d((options.in_channels_ = 0, options), Uninitialized{}) {
    set_name("LazyConvTranspose2d");
    make_lazy("ConvTranspose2d");
}
void LazyConvTranspose2d::initialize_parameters(const std::vector<Tensor>& inputs) {
    lazy_conv_initialize<2>(*this, options_, inputs, "LazyConvTranspose2d", true);
}
void LazyConvTranspose2d::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_channels_ != 0) ConvTranspose2d::reset_parameters();
}
void LazyConvTranspose2d::lazy_load_finalize() {
    check_loaded_conv<2>(*this, options_, "LazyConvTranspose2d", true);
    options_.in_channels_ = weight.size(0);
}

LazyConvTranspose3d::LazyConvTranspose3d(ConvTranspose3dOptions options) : ConvTranspose3d((options.in_channels_ = 0, options), Uninitialized{}) {
    set_name("LazyConvTranspose3d");
    make_lazy("ConvTranspose3d");
}
void LazyConvTranspose3d::initialize_parameters(const std::vector<Tensor>& inputs) {
    lazy_conv_initialize<3>(*this, options_, inputs, "LazyConvTranspose3d", true);
}
void LazyConvTranspose3d::reset_parameters() {
    if (!has_uninitialized_params() && options_.in_channels_ != 0) ConvTranspose3d::reset_parameters();
}
void LazyConvTranspose3d::lazy_load_finalize() {
    check_loaded_conv<3>(*this, options_, "LazyConvTranspose3d", true);
    options_.in_channels_ = weight.size(0);
}

}  // namespace lazynn::nn
