#include "python_repr.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/shape_layers.hpp>

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

Upsample::Upsample(UpsampleOptions options) : options_(std::move(options)) {
    set_name("Upsample");
    const UpsampleMode mode = options_.mode();
    if (mode != UpsampleMode::Nearest && mode != UpsampleMode::Bilinear) {
        throw ValueError(std::string("Upsample: mode '") + upsample_mode_name(mode) +
                         "' is not implemented (nearest, bilinear)");
    }
    if (options_.align_corners() && mode == UpsampleMode::Nearest) {
        // PyTorch's rule: align_corners only has a meaning for the interpolating modes.
        throw ValueError(
            "align_corners option can only be set with the interpolating modes: linear | bilinear | bicubic | "
            "trilinear");
    }
    if (options_.align_corners().value_or(false)) throw ValueError("Upsample: align_corners=True is not implemented");
    if (options_.size() && options_.scale_factor())
        throw ValueError("Upsample: only one of size or scale_factor should be defined");
    if (!options_.size() && !options_.scale_factor())
        throw ValueError("Upsample: either size or scale_factor should be defined");
    if (options_.scale_factor() && !(*options_.scale_factor() > 0)) {
        throw ValueError("Upsample: scale_factor must be positive, got " +
                         detail::python_float(*options_.scale_factor()));
    }
}

Tensor Upsample::forward(const Tensor& input) {
    if (input.dim() != 4)
        throw ShapeError("Upsample: expected input [N, C, H, W], got " + shape_to_list(input.shape()));
    const std::int64_t h = input.size(2), w = input.size(3);
    const double factor = options_.scale_factor().value_or(0.0);
    const UpsampleSize size = options_.size().value_or(UpsampleSize{0, 0});
    const std::int64_t oh =
        factor > 0 ? static_cast<std::int64_t>(std::floor(static_cast<double>(h) * factor)) : size[0];
    const std::int64_t ow =
        factor > 0 ? static_cast<std::int64_t>(std::floor(static_cast<double>(w) * factor)) : size[1];
    // Source coordinates use the scale the user gave (PyTorch's rule), else in/out.
    const double sh = factor > 0 ? 1.0 / factor : static_cast<double>(h) / static_cast<double>(oh);
    const double sw = factor > 0 ? 1.0 / factor : static_cast<double>(w) / static_cast<double>(ow);
    if (options_.mode() == UpsampleMode::Nearest) {
        auto index = [](std::int64_t out, std::int64_t in, double scale) {
            std::vector<std::int64_t> idx;
            for (std::int64_t i = 0; i < out; ++i)
                idx.push_back(std::min(static_cast<std::int64_t>(std::floor(static_cast<double>(i) * scale)), in - 1));
            return tensor(idx, {out});
        };
        return input.index_select(2, index(oh, h, sh)).index_select(3, index(ow, w, sw));
    }
    // Bilinear with align_corners=False as two interpolation matrices: out = A_h x A_w^T.
    auto matrix = [&](std::int64_t out, std::int64_t in, double scale) {
        std::vector<double> m(static_cast<std::size_t>(out * in), 0.0);
        for (std::int64_t i = 0; i < out; ++i) {
            const double src = std::max((static_cast<double>(i) + 0.5) * scale - 0.5, 0.0);
            const auto i0 = std::min(static_cast<std::int64_t>(std::floor(src)), in - 1);
            const std::int64_t i1 = std::min(i0 + 1, in - 1);
            const double frac = src - static_cast<double>(i0);
            m[static_cast<std::size_t>(i * in + i0)] += 1.0 - frac;
            m[static_cast<std::size_t>(i * in + i1)] += frac;
        }
        return tensor(m, {out, in}, kFloat64).to(input.dtype());
    };
    return matrix(oh, h, sh).matmul(input).matmul(matrix(ow, w, sw).t());
}

std::string Upsample::extra_repr() const {
    const std::string mode = upsample_mode_name(options_.mode());
    if (options_.scale_factor())
        return "scale_factor=" + detail::python_float(*options_.scale_factor()) + ", mode=" + mode;
    const auto& size = *options_.size();
    return "size=(" + std::to_string(size[0]) + ", " + std::to_string(size[1]) + "), mode=" + mode;
}

template <std::size_t N>
ValuesIndices functional::adaptive_max_pool_with_indices(const Tensor& input, const ExpandingArray<N>& output_size,
                                                         const std::string& who) {
    const auto batched = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched && input.dim() != batched - 1) {
        throw ShapeError(who + ": expected " + std::to_string(batched - 1) + "D or " + std::to_string(batched) +
                         "D input, got " + shape_to_list(input.shape()));
    }
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
