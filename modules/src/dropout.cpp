#include "python_repr.hpp"

#include <lazynn/error.hpp>
#include <lazynn/nn/dropout.hpp>
#include <lazynn/nn/functional.hpp>

#include <cmath>

namespace lazynn::nn {
namespace {

void check_probability(double p) {
    if (p < 0.0 || p > 1.0)
        throw ValueError("dropout probability has to be between 0 and 1, but got " + std::to_string(p));
}

std::string dropout_repr(double p) { return "p=" + detail::python_float(p) + ", inplace=False"; }

}  // namespace

Dropout::Dropout(DropoutOptions options) : options_(options) {
    set_name("Dropout");
    check_probability(options_.p());
}

Tensor Dropout::forward(const Tensor& input) { return functional::dropout(input, options_.p(), is_training()); }

std::string Dropout::extra_repr() const { return dropout_repr(options_.p()); }

template <std::size_t N>
ChannelDropoutNd<N>::ChannelDropoutNd(DropoutOptions options) : options_(options) {
    check_probability(options_.p());
}

template <std::size_t N>
Tensor ChannelDropoutNd<N>::forward(const Tensor& input) {
    const double p = options_.p();
    if (!is_training() || p == 0) return input;
    const auto batched = static_cast<std::int64_t>(N) + 2;
    if (input.dim() != batched && input.dim() != batched - 1) {
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D or " + std::to_string(batched) +
                         "D input, got " + shape_to_list(input.shape()));
    }
    const bool unbatched = input.dim() == batched - 1;
    Shape mask_shape = unbatched ? Shape{input.size(0)} : Shape{input.size(0), input.size(1)};
    for (std::size_t i = 0; i < N; ++i) mask_shape.push_back(1);
    const Tensor keep = (rand(mask_shape, input.dtype()) >= p) * (p < 1 ? 1.0 / (1.0 - p) : 0.0);
    return input * keep;
}

template <std::size_t N>
std::string ChannelDropoutNd<N>::extra_repr() const {
    return dropout_repr(options_.p());
}

template class ChannelDropoutNd<1>;
template class ChannelDropoutNd<2>;
template class ChannelDropoutNd<3>;

AlphaDropout::AlphaDropout(DropoutOptions options) : options_(options) {
    set_name("AlphaDropout");
    check_probability(options_.p());
}

Tensor AlphaDropout::forward(const Tensor& input) {
    const double p = options_.p();
    if (!is_training() || p == 0) return input;
    if (p == 1) return input * 0.0;
    // Dropped units take SELU's negative saturation value, then an affine map restores mean and variance.
    constexpr double kAlphaPrime = -1.7580993408473766;  // -scale * alpha of SELU
    const double keep = 1.0 - p;
    const double a = 1.0 / std::sqrt((kAlphaPrime * kAlphaPrime * p + 1.0) * keep);
    const double b = -a * kAlphaPrime * p;
    const Tensor mask = rand_like(input) >= p;
    return (input * mask + (1.0 - mask) * kAlphaPrime) * a + b;
}

std::string AlphaDropout::extra_repr() const { return dropout_repr(options_.p()); }

}  // namespace lazynn::nn
