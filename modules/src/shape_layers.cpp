#include "python_repr.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/shape_layers.hpp>

#include <cmath>
#include <tuple>

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
Tensor AdaptiveMaxPoolNd<N>::forward(const Tensor& input) {
    const auto batched = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched && input.dim() != batched - 1) {
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D or " + std::to_string(batched) +
                         "D input, got " + shape_to_list(input.shape()));
    }
    // Each output cell is the max over PyTorch's adaptive window [floor(i*L/out), ceil((i+1)*L/out)).
    Tensor x = input;
    for (std::size_t k = 0; k < N; ++k) {
        const std::int64_t dim = x.dim() - static_cast<std::int64_t>(N) + static_cast<std::int64_t>(k);
        const std::int64_t in = x.size(dim), out = options_.output_size()[k];
        std::vector<Tensor> cells;
        for (std::int64_t i = 0; i < out; ++i) {
            const std::int64_t start = (i * in) / out, end = ((i + 1) * in + out - 1) / out;
            cells.push_back(x.narrow(dim, start, end - start).max(dim, true).values);
        }
        x = cat(cells, dim);
    }
    return x;
}

template <std::size_t N>
std::string AdaptiveMaxPoolNd<N>::extra_repr() const {
    if (N == 1 || options_.output_size().scalar) return "output_size=" + std::to_string(options_.output_size()[0]);
    return "output_size=(" + std::to_string(options_.output_size()[0]) + ", " +
           std::to_string(options_.output_size()[N - 1]) + ")";
}

template class AdaptiveMaxPoolNd<1>;
template class AdaptiveMaxPoolNd<2>;

}  // namespace lazynn::nn
