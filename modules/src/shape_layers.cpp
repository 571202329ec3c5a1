#include "pooling_rank.hpp"
#include "python_repr.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/shape_layers.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>

namespace lazynn::nn {

Unflatten::Unflatten(UnflattenOptions options) : options_(std::move(options)) { set_name("Unflatten"); }

Tensor Unflatten::forward(const Tensor& input) {
    const auto d = static_cast<std::size_t>(normalize_dim(options_.dim(), input.dim()));
    Shape shape(input.shape().begin(), input.shape().begin() + static_cast<std::ptrdiff_t>(d));
    shape.insert(shape.end(), options_.sizes().begin(), options_.sizes().end());
    shape.insert(shape.end(), input.shape().begin() + static_cast<std::ptrdiff_t>(d) + 1, input.shape().end());
    if (shape_numel(shape) != input.numel()) {
        throw ShapeError("Unflatten: unflattened_size " + shape_to_list(options_.sizes()) + " does not match dim " +
                         std::to_string(options_.dim()) + " of size " + std::to_string(input.size(options_.dim())));
    }
    return input.reshape(shape);
}

std::string Unflatten::extra_repr() const {
    std::string s = "(";
    for (std::size_t i = 0; i < options_.sizes().size(); ++i)
        s += (i ? ", " : "") + std::to_string(options_.sizes()[i]);
    return "dim=" + std::to_string(options_.dim()) + ", unflattened_size=" + s +
           (options_.sizes().size() == 1 ? ",)" : ")");
}

PixelShuffle::PixelShuffle(PixelShuffleOptions options) : options_(options) {
    set_name("PixelShuffle");
    if (options_.upscale_factor() <= 0) throw ValueError("PixelShuffle: upscale_factor must be positive");
}

Tensor PixelShuffle::forward(const Tensor& input) {
    if (input.dim() < 3)
        throw ShapeError("pixel_shuffle expects input to have at least 3 dimensions, but got input with " +
                         std::to_string(input.dim()));
    const std::int64_t r = options_.upscale_factor();
    const std::int64_t c = input.size(-3), h = input.size(-2), w = input.size(-1);
    if (c % (r * r) != 0) {
        throw ShapeError(
            "pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, "
            "but input.size(-3)=" +
            std::to_string(c) + " is not divisible by " + std::to_string(r * r));
    }
    Shape lead(input.shape().begin(), input.shape().end() - 3);
    Shape split = lead;
    split.insert(split.end(), {c / (r * r), r, r, h, w});
    const auto b = static_cast<std::int64_t>(lead.size());
    Shape perm;
    for (std::int64_t i = 0; i < b; ++i) perm.push_back(i);
    perm.insert(perm.end(), {b, b + 3, b + 1, b + 4, b + 2});  // [C, H, r, W, r]
    Shape out = lead;
    out.insert(out.end(), {c / (r * r), h * r, w * r});
    return input.reshape(split).permute(perm).reshape(out);
}

PixelUnshuffle::PixelUnshuffle(PixelUnshuffleOptions options) : options_(options) {
    set_name("PixelUnshuffle");
    if (options_.downscale_factor() <= 0) throw ValueError("PixelUnshuffle: downscale_factor must be positive");
}

Tensor PixelUnshuffle::forward(const Tensor& input) {
    if (input.dim() < 3)
        throw ShapeError("pixel_unshuffle expects input to have at least 3 dimensions, but got input with " +
                         std::to_string(input.dim()) + " dimension(s)");
    const std::int64_t r = options_.downscale_factor();
    const std::int64_t c = input.size(-3), h = input.size(-2), w = input.size(-1);
    for (auto [size, side, dim] : {std::tuple{h, "height", "-2"}, std::tuple{w, "width", "-1"}}) {
        if (size % r != 0) {
            throw ShapeError(std::string("pixel_unshuffle expects ") + side +
                             " to be divisible by downscale_factor, but input.size(" + dim +
                             ")=" + std::to_string(size) + " is not divisible by " + std::to_string(r));
        }
    }
    Shape lead(input.shape().begin(), input.shape().end() - 3);
    Shape split = lead;
    split.insert(split.end(), {c, h / r, r, w / r, r});
    const auto b = static_cast<std::int64_t>(lead.size());
    Shape perm;
    for (std::int64_t i = 0; i < b; ++i) perm.push_back(i);
    perm.insert(perm.end(), {b, b + 2, b + 4, b + 1, b + 3});  // [C, r, r, H/r, W/r]
    Shape out = lead;
    out.insert(out.end(), {c * r * r, h / r, w / r});
    return input.reshape(split).permute(perm).reshape(out);
}

ChannelShuffle::ChannelShuffle(ChannelShuffleOptions options) : options_(options) {
    set_name("ChannelShuffle");
    if (options_.groups() <= 0) {
        throw ValueError("ChannelShuffle: Number of groups to divide channels in must be positive. Value of groups:" +
                         std::to_string(options_.groups()));
    }
}

Tensor ChannelShuffle::forward(const Tensor& input) {
    if (input.dim() <= 2) {
        throw ShapeError("channel_shuffle expects input with > 2 dims, but got input with sizes " +
                         shape_to_list(input.shape()));
    }
    const std::int64_t groups = options_.groups(), c = input.size(1);
    if (c % groups != 0) {
        throw ShapeError("ChannelShuffle: Number of channels must be divisible by groups. Got " + std::to_string(c) +
                         " channels and " + std::to_string(groups) + " groups.");
    }
    Shape split{input.size(0), groups, c / groups};
    split.insert(split.end(), input.shape().begin() + 2, input.shape().end());
    return input.reshape(split).transpose(1, 2).reshape(input.shape());
}

ConstantPadNd::ConstantPadNd(std::vector<std::int64_t> padding, double value, const char* name)
    : padding_(std::move(padding)), value_(value) {
    set_name(name);
}

Tensor ConstantPadNd::forward(const Tensor& input) { return functional::pad(input, padding_, "constant", value_); }

std::string ConstantPadNd::extra_repr() const {
    std::string s = "padding=(";
    for (std::size_t i = 0; i < padding_.size(); ++i) s += (i ? ", " : "") + std::to_string(padding_[i]);
    return s + "), value=" + detail::python_float(value_);
}

std::string ZeroPad2d::extra_repr() const {
    std::string s = "(";
    for (std::size_t i = 0; i < padding_.size(); ++i) s += (i ? ", " : "") + std::to_string(padding_[i]);
    return s + ")";
}

const char* upsample_mode_name(UpsampleMode mode) {
    switch (mode) {
        case UpsampleMode::Nearest:
            return "nearest";
        case UpsampleMode::Linear:
            return "linear";
        case UpsampleMode::Bilinear:
            return "bilinear";
        case UpsampleMode::Bicubic:
            return "bicubic";
        case UpsampleMode::Trilinear:
            return "trilinear";
    }
    return "?";
}

namespace {

/// The input rank each mode takes (nearest: any of 3, 4, 5).
std::int64_t mode_rank(UpsampleMode mode) {
    switch (mode) {
        case UpsampleMode::Linear:
            return 3;
        case UpsampleMode::Bilinear:
        case UpsampleMode::Bicubic:
            return 4;
        case UpsampleMode::Trilinear:
            return 5;
        case UpsampleMode::Nearest:
            return 0;
    }
    return 0;
}

/// PyTorch's source-coordinate scale for one dimension (area_pixel_compute_scale): with
/// align_corners the corners map onto each other; otherwise the user's 1 / scale_factor when
/// given, else in / out.
double source_scale(std::int64_t in, std::int64_t out, bool align_corners, double factor) {
    if (align_corners) return out > 1 ? static_cast<double>(in - 1) / static_cast<double>(out - 1) : 0.0;
    return factor > 0 ? 1.0 / factor : static_cast<double>(in) / static_cast<double>(out);
}

/// How one dimension is interpolated: each output reads `taps` inputs (linear 2, cubic 4), tap t
/// of output i at index[t][i] with weight[t][i], exactly the taps PyTorch's kernels read (indices
/// clamped to the edge, zero weights kept: 0 * inf is NaN there too, and a NaN or inf input
/// reaches only the outputs whose taps include it).
struct InterpolationTaps {
    std::vector<std::vector<std::int64_t>> index;
    std::vector<std::vector<double>> weight;
};

/// Linear (two taps) or cubic (four taps, Keys' kernel with A = -0.75) over one dimension.
InterpolationTaps interpolation_taps(std::int64_t out, std::int64_t in, double scale, bool align_corners, bool cubic) {
    const std::size_t taps = cubic ? 4 : 2;
    InterpolationTaps r{std::vector<std::vector<std::int64_t>>(taps, std::vector<std::int64_t>(out)),
                        std::vector<std::vector<double>>(taps, std::vector<double>(out))};
    const auto set = [&](std::size_t tap, std::int64_t i, std::int64_t col, double weight) {
        r.index[tap][static_cast<std::size_t>(i)] = std::clamp<std::int64_t>(col, 0, in - 1);
        r.weight[tap][static_cast<std::size_t>(i)] = weight;
    };
    for (std::int64_t i = 0; i < out; ++i) {
        const double dst = static_cast<double>(i);
        double src = align_corners ? scale * dst : scale * (dst + 0.5) - 0.5;
        if (!cubic) {
            src = std::max(src, 0.0);  // linear clamps the coordinate; cubic clamps the taps
            const auto i0 = std::min(static_cast<std::int64_t>(src), in - 1);
            const std::int64_t i1 = i0 < in - 1 ? i0 + 1 : i0;
            const double lambda = src - static_cast<double>(i0);
            set(0, i, i0, 1.0 - lambda);
            set(1, i, i1, lambda);
            continue;
        }
        const auto i0 = static_cast<std::int64_t>(std::floor(src));
        const double t = src - static_cast<double>(i0);
        constexpr double A = -0.75;
        const auto near = [](double x) { return ((A + 2) * x - (A + 3)) * x * x + 1; };       // |x| <= 1
        const auto far = [](double x) { return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; };  // 1 < |x| < 2
        set(0, i, i0 - 1, far(t + 1));
        set(1, i, i0, near(t));
        set(2, i, i0 + 1, near(1 - t));
        set(3, i, i0 + 2, far(2 - t));
    }
    return r;
}

/// x interpolated along `dim`: the sum over taps of x's tapped slices times their weights
/// (recorded ops, so the backward scatters each output's gradient onto its taps only).
Tensor interpolate_dim(const Tensor& x, std::int64_t dim, const InterpolationTaps& taps) {
    Shape weight_shape(static_cast<std::size_t>(x.dim()), 1);
    const auto out = static_cast<std::int64_t>(taps.index[0].size());
    weight_shape[static_cast<std::size_t>(dim)] = out;
    Tensor sum;
    for (std::size_t t = 0; t < taps.index.size(); ++t) {
        const Tensor term = x.index_select(dim, tensor(taps.index[t], {out})) *
                            tensor(taps.weight[t], weight_shape, kFloat64).to(x.dtype());
        sum = sum.defined() ? sum + term : term;
    }
    return sum;
}

void check_interpolate_options(const UpsampleOptions& options, const char* who) {
    const UpsampleMode mode = options.mode();
    if (options.align_corners() && mode == UpsampleMode::Nearest) {
        // PyTorch's rule: align_corners only has a meaning for the interpolating modes.
        throw ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | "
            "trilinear");
    }
    if (options.size() && options.scale_factor())
        throw ValueError(std::string(who) + ": only one of size or scale_factor should be defined");
    if (!options.size() && !options.scale_factor())
        throw ValueError(std::string(who) + ": either size or scale_factor should be defined");
    if (options.scale_factor() && !(*options.scale_factor() > 0)) {
        throw ValueError(std::string(who) + ": scale_factor must be positive, got " +
                         detail::python_float(*options.scale_factor()));
    }
    if (options.size()) {
        const auto& size = *options.size();
        if (size.empty() || size.size() > 3)
            throw ValueError(std::string(who) + ": size must hold 1 to 3 values, got " + std::to_string(size.size()));
        for (const std::int64_t s : size) {
            if (s <= 0) throw ValueError(std::string(who) + ": size must be positive, got " + std::to_string(s));
        }
    }
}

}  // namespace

Upsample::Upsample(UpsampleOptions options) : options_(std::move(options)) {
    set_name("Upsample");
    check_interpolate_options(options_, "Upsample");
}

Tensor Upsample::forward(const Tensor& input) { return functional::interpolate(input, options_); }

Tensor functional::interpolate(const Tensor& input, const UpsampleOptions& options) {
    check_interpolate_options(options, "interpolate");
    const UpsampleMode mode = options.mode();
    const std::int64_t rank = input.dim();
    // PyTorch names the rank a linear mode needs, but not bicubic's (its generic message).
    if (rank < 3 || rank > 5 || (mode == UpsampleMode::Bicubic && rank != 4)) {
        throw NotImplementedError("Input Error: Only 3D, 4D and 5D input Tensors supported (got " +
                                  std::to_string(rank) +
                                  "D) for the modes: nearest | linear | bilinear | bicubic | "
                                  "trilinear (got " +
                                  upsample_mode_name(mode) + ")");
    }
    if (const std::int64_t needed = mode_rank(mode); needed != 0 && needed != rank) {
        throw NotImplementedError("Got " + std::to_string(rank) + "D input, but " + upsample_mode_name(mode) +
                                  " mode needs " + std::to_string(needed) + "D input");
    }
    if (!input.is_floating_point())
        throw DtypeError("interpolate: expected a floating point input, got " + dtype_name(input.dtype()));
    const std::int64_t spatial = rank - 2;
    const double factor = options.scale_factor().value_or(0.0);
    std::vector<std::int64_t> out_size(static_cast<std::size_t>(spatial));
    if (options.size()) {
        const auto& size = *options.size();
        if (size.size() != 1 && static_cast<std::int64_t>(size.size()) != spatial) {
            throw ValueError(
                "Input and output must have the same number of spatial dimensions, but got input with "
                "spatial dimensions of " +
                shape_to_list(Shape(input.shape().begin() + 2, input.shape().end())) + " and output size of " +
                shape_to_list(size) +
                ". Please provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                "(o1, o2, ...,oK) format.");
        }
        for (std::int64_t k = 0; k < spatial; ++k) out_size[k] = size.size() == 1 ? size[0] : size[k];
    } else {
        for (std::int64_t k = 0; k < spatial; ++k)
            out_size[k] = static_cast<std::int64_t>(std::floor(static_cast<double>(input.size(k + 2)) * factor));
    }
    const bool align_corners = options.align_corners().value_or(false);
    Tensor x = input;
    for (std::int64_t k = 0; k < spatial; ++k) {
        const std::int64_t dim = k + 2;
        const std::int64_t in = input.size(dim), out = out_size[static_cast<std::size_t>(k)];
        if (in <= 0 || out <= 0) {
            throw ValueError("interpolate: input and output sizes should be greater than 0, but got input " +
                             shape_to_list(input.shape()) + " and output " + shape_to_list(out_size));
        }
        if (mode == UpsampleMode::Nearest) {
            // PyTorch's nearest: floor(i * scale), clamped to the last element.
            const double scale = factor > 0 ? 1.0 / factor : static_cast<double>(in) / static_cast<double>(out);
            std::vector<std::int64_t> index(static_cast<std::size_t>(out));
            for (std::int64_t i = 0; i < out; ++i)
                index[i] = std::min(static_cast<std::int64_t>(std::floor(static_cast<double>(i) * scale)), in - 1);
            x = x.index_select(dim, tensor(index, {out}));
            continue;
        }
        // One dimension at a time: each output gets the products of its taps' weights over every
        // dimension, in whichever order the dimensions go, so the NaN and inf pattern is PyTorch's.
        x = interpolate_dim(x, dim,
                            interpolation_taps(out, in, source_scale(in, out, align_corners, factor), align_corners,
                                               mode == UpsampleMode::Bicubic));
    }
    return x;
}

std::string Upsample::extra_repr() const {
    const std::string mode = upsample_mode_name(options_.mode());
    if (options_.scale_factor())
        return "scale_factor=" + detail::python_float(*options_.scale_factor()) + ", mode=" + mode;
    const auto& size = *options_.size();
    std::string s = size.size() == 1 ? std::to_string(size[0]) : "(";
    if (size.size() > 1) {
        for (std::size_t i = 0; i < size.size(); ++i) s += (i ? ", " : "") + std::to_string(size[i]);
        s += ")";
    }
    return "size=" + s + ", mode=" + mode;
}

template <std::size_t N>
ValuesIndices functional::adaptive_max_pool_with_indices(const Tensor& input, const ExpandingArray<N>& output_size,
                                                         const std::string& who) {
    (void)detail::is_unbatched_pooling_input<N>(who, input);
    if (!input.is_floating_point())
        throw DtypeError(who + ": expected a floating point input, got " + dtype_name(input.dtype()));
    const Shape& in_shape = input.shape();
    const auto spatial_begin = in_shape.end() - static_cast<std::ptrdiff_t>(N);
    std::array<std::int64_t, N> in{}, out{};
    for (std::size_t k = 0; k < N; ++k) {
        in[k] = *(spatial_begin + static_cast<std::ptrdiff_t>(k));
        out[k] = output_size[k];
        if (out[k] <= 0 || in[k] <= 0) {
            throw ValueError(who + ": input spatial sizes " + shape_to_list(Shape(spatial_begin, in_shape.end())) +
                             " and output_size must be positive");
        }
    }
    Shape planes_shape(in_shape.begin(), spatial_begin);
    Shape out_shape = planes_shape;
    std::int64_t plane_in = 1, plane_out = 1;
    for (std::size_t k = 0; k < N; ++k) {
        plane_in *= in[k];
        plane_out *= out[k];
        out_shape.push_back(out[k]);
    }
    const std::int64_t planes = shape_numel(planes_shape);
    // The indices come from a float64 copy: PyTorch's scan, one window at a time.
    const Tensor x = input.detach().to(kFloat64).contiguous();
    const double* data = x.data_ptr<double>();
    Tensor indices = empty({planes, plane_out}, kInt64);
    std::int64_t* index_out = indices.data_ptr<std::int64_t>();
    auto window = [](std::int64_t i, std::int64_t in_size, std::int64_t out_size) {
        return std::pair{(i * in_size) / out_size, ((i + 1) * in_size + out_size - 1) / out_size};
    };
    for (std::int64_t p = 0; p < planes; ++p) {
        const double* plane = data + p * plane_in;
        for (std::int64_t cell = 0; cell < plane_out; ++cell) {
            // The cell's coordinates, last dim fastest, and its window along each dim.
            std::array<std::int64_t, N> lo{}, hi{};
            std::int64_t rest = cell;
            for (std::size_t k = N; k-- > 0;) {
                std::tie(lo[k], hi[k]) = window(rest % out[k], in[k], out[k]);
                rest /= out[k];
            }
            // Scan the window in row-major order: the first maximum, or the last NaN (PyTorch's rule).
            std::array<std::int64_t, N> at = lo;
            std::int64_t best = -1;
            double best_value = 0.0;
            while (true) {
                std::int64_t flat = 0;
                for (std::size_t k = 0; k < N; ++k) flat = flat * in[k] + at[k];
                const double v = plane[flat];
                if (best < 0 || v > best_value || std::isnan(v)) {
                    best = flat;
                    best_value = v;
                }
                std::size_t k = N;
                while (k-- > 0) {
                    if (++at[k] < hi[k]) break;
                    at[k] = lo[k];
                }
                if (k == static_cast<std::size_t>(-1)) break;
            }
            index_out[p * plane_out + cell] = best;
        }
    }
    // The values gathered from the input keep its dtype and autograd: each gradient goes to its
    // maximum, accumulated where windows overlap.
    const Tensor values = input.reshape({planes, plane_in}).gather(1, indices).reshape(out_shape);
    return {values, indices.reshape(out_shape)};
}

template <std::size_t N>
ValuesIndices AdaptiveMaxPoolNd<N>::forward_with_indices(const Tensor& input) {
    return functional::adaptive_max_pool_with_indices<N>(input, options_.output_size(), name());
}

template <std::size_t N>
Tensor AdaptiveMaxPoolNd<N>::forward(const Tensor& input) {
    return forward_with_indices(input).values;
}

template <std::size_t N>
std::string AdaptiveMaxPoolNd<N>::extra_repr() const {
    return "output_size=" + detail::tuple_or_int<N>(options_.output_size());
}

template ValuesIndices functional::adaptive_max_pool_with_indices<1>(const Tensor&, const ExpandingArray<1>&,
                                                                     const std::string&);
template ValuesIndices functional::adaptive_max_pool_with_indices<2>(const Tensor&, const ExpandingArray<2>&,
                                                                     const std::string&);
template ValuesIndices functional::adaptive_max_pool_with_indices<3>(const Tensor&, const ExpandingArray<3>&,
                                                                     const std::string&);
template class AdaptiveMaxPoolNd<1>;
template class AdaptiveMaxPoolNd<2>;
template class AdaptiveMaxPoolNd<3>;

}  // namespace lazynn::nn
