#include "python_repr.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/nn/functional.hpp>
#include <lazynn/nn/shape_layers.hpp>

#include <cmath>

namespace lazynn::nn {

Unflatten::Unflatten(std::int64_t dim, Shape sizes) : dim_(dim), sizes_(std::move(sizes)) { set_name("Unflatten"); }

Tensor Unflatten::forward(const Tensor& input) {
    const auto d = static_cast<std::size_t>(normalize_dim(dim_, input.dim()));
    Shape shape(input.shape().begin(), input.shape().begin() + static_cast<std::ptrdiff_t>(d));
    shape.insert(shape.end(), sizes_.begin(), sizes_.end());
    shape.insert(shape.end(), input.shape().begin() + static_cast<std::ptrdiff_t>(d) + 1, input.shape().end());
    if (shape_numel(shape) != input.numel()) {
        throw ShapeError("Unflatten: unflattened_size " + shape_to_list(sizes_) + " does not match dim " + std::to_string(dim_) +
                         " of size " + std::to_string(input.size(dim_)));
    }
    return input.reshape(shape);
}

std::string Unflatten::extra_repr() const {
    std::string s = "(";
    for (std::size_t i = 0; i < sizes_.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes_[i]);
    return "dim=" + std::to_string(dim_) + ", unflattened_size=" + s + (sizes_.size() == 1 ? ",)" : ")");
}

PixelShuffle::PixelShuffle(std::int64_t upscale_factor) : factor_(upscale_factor) {
    set_name("PixelShuffle");
    if (upscale_factor <= 0) throw ValueError("PixelShuffle: upscale_factor must be positive");
}

Tensor PixelShuffle::forward(const Tensor& input) {
    if (input.dim() < 3) throw ShapeError("pixel_shuffle expects input to have at least 3 dimensions, but got input with " + std::to_string(input.dim()));
    const std::int64_t r = factor_;
    const std::int64_t c = input.size(-3), h = input.size(-2), w = input.size(-1);
    if (c % (r * r) != 0) {
        throw ShapeError("pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of upscale_factor, but input.size(-3)=" +
                         std::to_string(c) + " is not divisible by " + std::to_string(r * r));
    }
    Shape lead(input.shape().begin(), input.shape().end() - 3);
    Shape split = lead;
    split.insert(split.end(), {c / (r * r), r, r, h, w});
    const auto b = static_cast<std::int64_t>(lead.size());
    Shape perm;
    for (std::int64_t i = 0; i < b; ++i) perm.push_back(i);
    perm.insert(perm.end(), {b, b + 3, b + 1, b + 4, b + 2});   // [C, H, r, W, r]
    Shape out = lead;
    out.insert(out.end(), {c / (r * r), h * r, w * r});
    return input.reshape(split).permute(perm).reshape(out);
}

ConstantPadNd::ConstantPadNd(std::vector<std::int64_t> padding, double value, const char* name) : padding_(std::move(padding)), value_(value) {
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

Upsample::Upsample(double scale_factor, std::string mode) : scale_(scale_factor), mode_(std::move(mode)) {
    set_name("Upsample");
    if (mode_ != "nearest" && mode_ != "bilinear") throw ValueError("Upsample: mode must be 'nearest' or 'bilinear', got '" + mode_ + "'");
}

Upsample::Upsample(std::array<std::int64_t, 2> size, std::string mode) : size_(size), mode_(std::move(mode)) {
    set_name("Upsample");
    if (mode_ != "nearest" && mode_ != "bilinear") throw ValueError("Upsample: mode must be 'nearest' or 'bilinear', got '" + mode_ + "'");
}

Tensor Upsample::forward(const Tensor& input) {
    if (input.dim() != 4) throw ShapeError("Upsample: expected input [N, C, H, W], got " + shape_to_list(input.shape()));
    const std::int64_t h = input.size(2), w = input.size(3);
    const std::int64_t oh = scale_ > 0 ? static_cast<std::int64_t>(std::floor(static_cast<double>(h) * scale_)) : size_[0];
    const std::int64_t ow = scale_ > 0 ? static_cast<std::int64_t>(std::floor(static_cast<double>(w) * scale_)) : size_[1];
    // Source coordinates use the scale the user gave (PyTorch's rule), else in/out.
    const double sh = scale_ > 0 ? 1.0 / scale_ : static_cast<double>(h) / static_cast<double>(oh);
    const double sw = scale_ > 0 ? 1.0 / scale_ : static_cast<double>(w) / static_cast<double>(ow);
    if (mode_ == "nearest") {
        auto index = [](std::int64_t out, std::int64_t in, double scale) {
            std::vector<std::int64_t> idx;
            for (std::int64_t i = 0; i < out; ++i) idx.push_back(std::min(static_cast<std::int64_t>(std::floor(static_cast<double>(i) * scale)), in - 1));
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
    if (scale_ > 0) return "scale_factor=" + detail::python_float(scale_) + ", mode=" + mode_;
    return "size=(" + std::to_string(size_[0]) + ", " + std::to_string(size_[1]) + "), mode=" + mode_;
}

template <std::size_t N>
AdaptiveMaxPoolNd<N>::AdaptiveMaxPoolNd(ExpandingArray<N> output_size) : output_size_(output_size) {}

template <std::size_t N>
Tensor AdaptiveMaxPoolNd<N>::forward(const Tensor& input) {
    const auto batched = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched && input.dim() != batched - 1) {
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D or " + std::to_string(batched) + "D input, got " +
                         shape_to_list(input.shape()));
    }
    // Each output cell is the max over PyTorch's adaptive window [floor(i*L/out), ceil((i+1)*L/out)).
    Tensor x = input;
    for (std::size_t k = 0; k < N; ++k) {
        const std::int64_t dim = x.dim() - static_cast<std::int64_t>(N) + static_cast<std::int64_t>(k);
        const std::int64_t in = x.size(dim), out = output_size_[k];
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
    if (N == 1 || output_size_.scalar) return "output_size=" + std::to_string(output_size_[0]);
    return "output_size=(" + std::to_string(output_size_[0]) + ", " + std::to_string(output_size_[N - 1]) + ")";
}

template class AdaptiveMaxPoolNd<1>;
template class AdaptiveMaxPoolNd<2>;

ChannelDropout::ChannelDropout(double p, std::int64_t spatial_dims, const char* name) : p_(p), spatial_dims_(spatial_dims) {
    set_name(name);
    if (p < 0 || p > 1) throw ValueError("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
}

Tensor ChannelDropout::forward(const Tensor& input) {
    if (!is_training() || p_ == 0) return input;
    const std::int64_t batched = spatial_dims_ + 2;
    if (input.dim() != batched && input.dim() != batched - 1) {
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D or " + std::to_string(batched) + "D input, got " +
                         shape_to_list(input.shape()));
    }
    const bool unbatched = input.dim() == batched - 1;
    Shape mask_shape = unbatched ? Shape{input.size(0)} : Shape{input.size(0), input.size(1)};
    for (std::int64_t i = 0; i < spatial_dims_; ++i) mask_shape.push_back(1);
    const Tensor keep = (rand(mask_shape, input.dtype()) >= p_) * (p_ < 1 ? 1.0 / (1.0 - p_) : 0.0);
    return input * keep;
}

std::string ChannelDropout::extra_repr() const { return "p=" + detail::python_float(p_) + ", inplace=False"; }

AlphaDropout::AlphaDropout(double p) : p_(p) {
    set_name("AlphaDropout");
    if (p < 0 || p > 1) throw ValueError("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
}

Tensor AlphaDropout::forward(const Tensor& input) {
    if (!is_training() || p_ == 0) return input;
    if (p_ == 1) return input * 0.0;
    // Dropped units take SELU's negative saturation value, then an affine map restores mean and variance.
    constexpr double kAlphaPrime = -1.7580993408473766;   // -scale * alpha of SELU
    const double keep = 1.0 - p_;
    const double a = 1.0 / std::sqrt((kAlphaPrime * kAlphaPrime * p_ + 1.0) * keep);
    const double b = -a * kAlphaPrime * p_;
    const Tensor mask = rand_like(input) >= p_;
    return (input * mask + (1.0 - mask) * kAlphaPrime) * a + b;
}

std::string AlphaDropout::extra_repr() const { return "p=" + detail::python_float(p_) + ", inplace=False"; }

}  // namespace lazynn::nn
