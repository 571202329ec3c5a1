// Conv1d/2d/3d and ConvTranspose1d/2d/3d modules and their lazy twins.
#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/conv.hpp>

#include <cmath>

namespace lazynn::nn {

const char* padding_keyword_name(PaddingKeyword keyword) { return keyword == PaddingKeyword::Same ? "same" : "valid"; }

const char* padding_mode_name(PaddingMode mode) {
    switch (mode) {
        case PaddingMode::Zeros:
            return "zeros";
        case PaddingMode::Reflect:
            return "reflect";
        case PaddingMode::Replicate:
            return "replicate";
        case PaddingMode::Circular:
            return "circular";
    }
    throw ValueError("padding_mode: not one of zeros, reflect, replicate, circular");
}

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
    if (options_.in_channels() % options_.groups() != 0) throw ValueError("in_channels must be divisible by groups");
    Shape wshape{options_.out_channels(), options_.in_channels() / options_.groups()};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(options_.kernel_size()[i]);
    weight = Parameter(empty(wshape));
    if (options_.bias()) bias = Parameter(empty({options_.out_channels()}));
    reset_parameters();
}

template <std::size_t N>
ConvNd<N>::ConvNd(ConvOptions<N> options, Uninitialized) : options_(std::move(options)) {
    set_name(conv_name<N>());
    validate();
    weight = UninitializedParameter();
    if (options_.bias()) bias = UninitializedParameter();
}

template <std::size_t N>
void ConvNd<N>::materialize_from_options() {
    Shape wshape{options_.out_channels(), options_.in_channels() / options_.groups()};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(options_.kernel_size()[i]);
    if (is_lazy(weight)) weight.materialize(wshape);
    if (is_lazy(bias)) bias.materialize({options_.out_channels()});
}

template <std::size_t N>
void ConvNd<N>::validate() const {
    const auto& o = options_;
    if (o.groups() <= 0) throw ValueError("groups must be a positive integer");
    if (o.out_channels() % o.groups() != 0) throw ValueError("out_channels must be divisible by groups");
    if (o.padding().keyword == PaddingKeyword::Same) {
        for (std::size_t i = 0; i < N; ++i) {
            if (o.stride()[i] != 1) throw ValueError("padding='same' is not supported for strided convolutions");
        }
    }
    for (std::size_t i = 0; i < N; ++i) {
        if (o.kernel_size()[i] <= 0 || o.stride()[i] <= 0 || o.dilation()[i] <= 0) {
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
        throw ShapeError("Expected " + std::to_string(batched_rank - 1) + "D (unbatched) or " +
                         std::to_string(batched_rank) + "D (batched) input to " + name() +
                         ", but got input of size: " + shape_to_list(input_given.shape()));
    }
    ops::check_conv_bias(weight, bias, o.groups(), false, conv_name<N>());
    const bool unbatched = input_given.dim() == batched_rank - 1;
    Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    if (input.size(1) != o.in_channels()) {
        Shape expected = input.shape();
        expected[1] = o.in_channels();
        throw ShapeError(name() + "(" + extra_repr() + "): Given groups=" + std::to_string(o.groups()) +
                         ", weight of size " + shape_to_list(weight.shape()) + ", expected input" +
                         shape_to_list(input.shape()) + " to have " + std::to_string(o.in_channels()) +
                         " channels, but got " + std::to_string(input.size(1)) + " channels instead");
    }
    // Spatial padding per dim: begin and end.
    std::array<std::int64_t, N> begin{}, end{};
    for (std::size_t i = 0; i < N; ++i) {
        if (o.padding().keyword == PaddingKeyword::Same) {
            const std::int64_t total = o.dilation()[i] * (o.kernel_size()[i] - 1);
            begin[i] = total / 2;
            end[i] = total - begin[i];
        } else if (!o.padding().keyword) {
            begin[i] = end[i] = o.padding().amount[i];
        }
    }
    if (o.padding_mode() != PaddingMode::Zeros) {
        std::vector<std::int64_t> pads;  // last dim first, as F.pad takes them
        for (std::size_t i = N; i-- > 0;) {
            pads.push_back(begin[i]);
            pads.push_back(end[i]);
        }
        input = functional::pad(input, pads, padding_mode_name(o.padding_mode()));
        begin.fill(0);
        end.fill(0);
    }
    Tensor out;
    const auto conv2d = relu ? functional::conv2d_relu : functional::conv2d;
    if constexpr (N == 3) {
        out =
            functional::conv3d(input, weight, bias, o.stride().values,
                               {begin[0], end[0], begin[1], end[1], begin[2], end[2]}, o.dilation().values, o.groups());
        if (relu) out = out.relu();
    } else if constexpr (N == 2) {
        out = conv2d(input, weight, bias, {o.stride()[0], o.stride()[1]}, {begin[0], end[0], begin[1], end[1]},
                     {o.dilation()[0], o.dilation()[1]}, o.groups());
    } else {
        out = conv2d(input.unsqueeze(2), weight.unsqueeze(2), bias, {1, o.stride()[0]}, {0, 0, begin[0], end[0]},
                     {1, o.dilation()[0]}, o.groups())
                  .squeeze(2);
    }
    return unbatched ? out.squeeze(0) : out;
}

template <std::size_t N>
std::string ConvNd<N>::extra_repr() const {
    const auto& o = options_;
    std::string s = std::to_string(o.in_channels()) + ", " + std::to_string(o.out_channels()) +
                    ", kernel_size=" + tuple_string<N>(o.kernel_size()) + ", stride=" + tuple_string<N>(o.stride());
    if (o.padding().keyword) {
        s += std::string(", padding=") + padding_keyword_name(*o.padding().keyword);
    } else {
        bool nonzero = false;
        for (std::size_t i = 0; i < N; ++i) nonzero = nonzero || o.padding().amount[i] != 0;
        if (nonzero) s += ", padding=" + tuple_string<N>(o.padding().amount);
    }
    bool dilated = false;
    for (std::size_t i = 0; i < N; ++i) dilated = dilated || o.dilation()[i] != 1;
    if (dilated) s += ", dilation=" + tuple_string<N>(o.dilation());
    if (o.groups() != 1) s += ", groups=" + std::to_string(o.groups());
    if (!o.bias()) s += ", bias=False";
    if (o.padding_mode() != PaddingMode::Zeros)
        s += std::string(", padding_mode=") + padding_mode_name(o.padding_mode());
    return s;
}

template class ConvNd<1>;
template class ConvNd<2>;
template class ConvNd<3>;

Conv1d::Conv1d(Conv1dOptions options) : ConvNd<1>(std::move(options)) {}
Conv2d::Conv2d(Conv2dOptions options) : ConvNd<2>(std::move(options)) {}
Conv3d::Conv3d(Conv3dOptions options) : ConvNd<3>(std::move(options)) {}

// ---- transposed convolutions ----

template <std::size_t N>
ConvTransposeNd<N>::ConvTransposeNd(ConvTransposeOptions<N> options) : options_(std::move(options)) {
    set_name(N == 1 ? "ConvTranspose1d" : N == 2 ? "ConvTranspose2d" : "ConvTranspose3d");
    validate();
    if (options_.in_channels() % options_.groups() != 0) throw ValueError("in_channels must be divisible by groups");
    Shape wshape{options_.in_channels(), options_.out_channels() / options_.groups()};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(options_.kernel_size()[i]);
    weight = Parameter(empty(wshape));
    if (options_.bias()) bias = Parameter(empty({options_.out_channels()}));
    reset_parameters();
}

template <std::size_t N>
ConvTransposeNd<N>::ConvTransposeNd(ConvTransposeOptions<N> options, Uninitialized) : options_(std::move(options)) {
    set_name(N == 1 ? "ConvTranspose1d" : N == 2 ? "ConvTranspose2d" : "ConvTranspose3d");
    validate();
    weight = UninitializedParameter();
    if (options_.bias()) bias = UninitializedParameter();
}

template <std::size_t N>
void ConvTransposeNd<N>::materialize_from_options() {
    Shape wshape{options_.in_channels(), options_.out_channels() / options_.groups()};
    for (std::size_t i = 0; i < N; ++i) wshape.push_back(options_.kernel_size()[i]);
    if (is_lazy(weight)) weight.materialize(wshape);
    if (is_lazy(bias)) bias.materialize({options_.out_channels()});
}

template <std::size_t N>
void ConvTransposeNd<N>::validate() const {
    const auto& o = options_;
    if (o.groups() <= 0) throw ValueError("groups must be a positive integer");
    if (o.out_channels() % o.groups() != 0) throw ValueError("out_channels must be divisible by groups");
    for (std::size_t i = 0; i < N; ++i) {
        if (o.output_padding()[i] >= std::max(o.stride()[i], o.dilation()[i])) {
            throw ValueError("output padding must be smaller than either stride or dilation, but got output_padding=" +
                             std::to_string(o.output_padding()[i]) + ", stride=" + std::to_string(o.stride()[i]) +
                             ", dilation=" + std::to_string(o.dilation()[i]));
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
    return transposed(input, options_.output_padding().values);
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
    if (static_cast<std::int64_t>(wanted.size()) == leading + spatial)
        wanted.erase(wanted.begin(), wanted.begin() + leading);
    if (static_cast<std::int64_t>(wanted.size()) != spatial) {
        throw ValueError(name() + ": for " + std::to_string(input.dim()) + "D input, output_size must have " +
                         std::to_string(spatial) + " or " + std::to_string(spatial + leading) + " elements (got " +
                         std::to_string(output_size.size()) + ")");
    }
    Shape min_sizes, max_sizes;
    for (std::size_t d = 0; d < N; ++d) {
        const std::int64_t in = input.size(static_cast<std::int64_t>(d) + leading);
        min_sizes.push_back((in - 1) * o.stride()[d] - 2 * o.padding()[d] + o.dilation()[d] * (o.kernel_size()[d] - 1) +
                            1);
        max_sizes.push_back(min_sizes.back() + o.stride()[d] - 1);
    }
    std::array<std::int64_t, N> output_padding{};
    for (std::size_t d = 0; d < N; ++d) {
        if (wanted[d] < min_sizes[d] || wanted[d] > max_sizes[d]) {
            const Shape& s = input.shape();
            throw ValueError(name() + ": requested an output size of " + shape_to_list(wanted) +
                             ", but valid sizes range from " + shape_to_list(min_sizes) + " to " +
                             shape_to_list(max_sizes) + " (for an input of " +
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
        throw ShapeError("Expected " + std::to_string(batched_rank - 1) + "D (unbatched) or " +
                         std::to_string(batched_rank) + "D (batched) input to " + name() +
                         ", but got input of size: " + shape_to_list(input_given.shape()));
    }
    ops::check_conv_bias(weight, bias, o.groups(), true, name().c_str());
    const bool unbatched = input_given.dim() == batched_rank - 1;
    const Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    if (input.size(1) != o.in_channels()) {
        throw ShapeError(name() + "(" + extra_repr() + "): Given transposed=1, weight of size " +
                         shape_to_list(weight.shape()) + ", expected input" + shape_to_list(input.shape()) +
                         " to have " + std::to_string(o.in_channels()) + " channels, but got " +
                         std::to_string(input.size(1)) + " channels instead");
    }
    Tensor out;
    if constexpr (N == 3) {
        out = functional::conv_transpose3d(input, weight, bias, o.stride().values, o.padding().values, output_padding,
                                           o.dilation().values, o.groups());
    } else if constexpr (N == 2) {
        out = functional::conv_transpose2d(input, weight, bias, {o.stride()[0], o.stride()[1]},
                                           {o.padding()[0], o.padding()[1]}, {output_padding[0], output_padding[1]},
                                           {o.dilation()[0], o.dilation()[1]}, o.groups());
    } else {
        out =
            functional::conv_transpose2d(input.unsqueeze(2), weight.unsqueeze(2), bias, {1, o.stride()[0]},
                                         {0, o.padding()[0]}, {0, output_padding[0]}, {1, o.dilation()[0]}, o.groups())
                .squeeze(2);
    }
    return unbatched ? out.squeeze(0) : out;
}

template <std::size_t N>
std::string ConvTransposeNd<N>::extra_repr() const {
    const auto& o = options_;
    std::string s = std::to_string(o.in_channels()) + ", " + std::to_string(o.out_channels()) +
                    ", kernel_size=" + tuple_string<N>(o.kernel_size()) + ", stride=" + tuple_string<N>(o.stride());
    auto any = [](const ExpandingArray<N>& a, std::int64_t v) {
        for (std::size_t i = 0; i < N; ++i) {
            if (a[i] != v) return true;
        }
        return false;
    };
    if (any(o.padding(), 0)) s += ", padding=" + tuple_string<N>(o.padding());
    if (any(o.dilation(), 1)) s += ", dilation=" + tuple_string<N>(o.dilation());
    if (any(o.output_padding(), 0)) s += ", output_padding=" + tuple_string<N>(o.output_padding());
    if (o.groups() != 1) s += ", groups=" + std::to_string(o.groups());
    if (!o.bias()) s += ", bias=False";
    return s;
}

template class ConvTransposeNd<1>;
template class ConvTransposeNd<2>;
template class ConvTransposeNd<3>;

ConvTranspose1d::ConvTranspose1d(ConvTranspose1dOptions options) : ConvTransposeNd<1>(std::move(options)) {}
ConvTranspose2d::ConvTranspose2d(ConvTranspose2dOptions options) : ConvTransposeNd<2>(std::move(options)) {}
ConvTranspose3d::ConvTranspose3d(ConvTranspose3dOptions options) : ConvTransposeNd<3>(std::move(options)) {}

// ---- lazy twins ----

template <class Conv>
void LazyConvolution<Conv>::infer_options(const std::vector<Tensor>& inputs) {
    constexpr std::size_t N = Conv::spatial_dims;
    auto& o = this->options_;
    const Tensor& input = inputs[0];
    const auto batched_rank = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched_rank && input.dim() != batched_rank - 1) {
        throw RuntimeError("Expected " + std::to_string(batched_rank - 1) + "D (unbatched) or " +
                           std::to_string(batched_rank) + "D (batched) input to " + this->name() +
                           ", but got input of size: " + shape_to_list(input.shape()));
    }
    o.in_channels(input.dim() == batched_rank ? input.size(1) : input.size(0));
    if (o.in_channels() % o.groups() != 0) throw ValueError("in_channels must be divisible by groups");
}

template <class Conv>
void LazyConvolution<Conv>::lazy_load_finalize() {
    // Each tensor was materialised from its own stored shape, and the kernels trust them to agree.
    constexpr std::size_t N = Conv::spatial_dims;
    constexpr bool transposed = Conv::is_transposed;
    auto& o = this->options_;
    const Shape& w = this->weight.shape();
    Shape expected = transposed ? Shape{-1, o.out_channels() / o.groups()} : Shape{o.out_channels(), -1};
    for (std::size_t i = 0; i < N; ++i) expected.push_back(o.kernel_size()[i]);
    bool ok = w.size() == expected.size();
    for (std::size_t i = 0; ok && i < w.size(); ++i) ok = expected[i] == -1 ? w[i] > 0 : w[i] == expected[i];
    if (ok && transposed) ok = w[0] % o.groups() == 0;  // in_channels splits into the groups
    if (!ok) {
        std::string want = shape_to_list(expected);
        want.replace(want.find("-1"), 2, transposed ? "in_channels" : "in_channels/groups");
        throw RuntimeError(this->name() + ": the loaded weight has shape " + shape_to_list(w) +
                           ", but this module expects " + want);
    }
    const Parameter& b = this->bias;
    if (b.defined() && !Module::is_lazy(b) && b.shape() != Shape{o.out_channels()}) {
        throw RuntimeError(this->name() + ": the loaded bias has shape " + shape_to_list(b.shape()) +
                           ", but out_channels is " + std::to_string(o.out_channels()) + " (expected [" +
                           std::to_string(o.out_channels()) + "])");
    }
    o.in_channels(transposed ? w[0] : w[1] * o.groups());
}

template class LazyConvolution<Conv1d>;
template class LazyConvolution<Conv2d>;
template class LazyConvolution<Conv3d>;
template class LazyConvolution<ConvTranspose1d>;
template class LazyConvolution<ConvTranspose2d>;
template class LazyConvolution<ConvTranspose3d>;

}  // namespace lazynn::nn
