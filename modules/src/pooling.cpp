// Pooling modules: MaxPool, AvgPool and AdaptiveAvgPool in 1, 2 and 3 dims, LPPool in 1 and 2, over
// the core ops (lazynn/ops/pooling.hpp).
#include <lazynn/nn/pooling.hpp>

#include "pooling_rank.hpp"
#include "python_repr.hpp"

#include <cmath>

namespace lazynn::nn {

namespace {

using detail::tuple_or_int;

template <std::size_t N>
std::array<std::int64_t, 2> as2d(const ExpandingArray<N>& a, std::int64_t fill) {
    return N == 2 ? std::array<std::int64_t, 2>{a[0], a[N - 1]} : std::array<std::int64_t, 2>{fill, a[0]};
}

/// Which inputs a pooling takes: windowed pools (max, average, power-average) refuse a zero size
/// outside the batch dimension, as PyTorch's do; adaptive averaging takes any.
enum class EmptyDims { BatchOnly, Any };

/// Runs a pooling function on inputs of rank N+1 (unbatched) or N+2, lifting 1-D to 2-D.
template <std::size_t N, class Fn>
Tensor pooled(const std::string& who, const Tensor& input, Fn fn, EmptyDims empty = EmptyDims::BatchOnly) {
    const bool unbatched = detail::is_unbatched_pooling_input<N>(who, input);
    if (empty == EmptyDims::BatchOnly) {
        for (std::int64_t d = unbatched ? 0 : 1; d < input.dim(); ++d) {
            if (input.size(d) == 0) {
                throw ShapeError(who + ": expected non-zero sizes outside the batch dimension, got input of size " +
                                 shape_to_list(input.shape()) + " (PyTorch: tensor with optional 0 dim batch size)");
            }
        }
    }
    Tensor x = unbatched ? input.unsqueeze(0) : input;
    if (N == 1) x = x.unsqueeze(2);
    Tensor y = fn(x);
    if (N == 1) y = y.squeeze(2);
    return unbatched ? y.squeeze(0) : y;
}

}  // namespace

template <std::size_t N>
Tensor MaxPoolNd<N>::forward(const Tensor& input) {
    if constexpr (N == 3) return forward_with_indices(input).values;
    return pooled<N>(name(), input, [&](const Tensor& x) {
        return functional::max_pool2d(x, as2d<N>(options_.kernel_size(), 1), as2d<N>(options_.stride(), 1),
                                      as2d<N>(options_.padding(), 0), as2d<N>(options_.dilation(), 1),
                                      options_.ceil_mode());
    });
}

template <std::size_t N>
ValuesIndices MaxPoolNd<N>::forward_with_indices(const Tensor& input) {
    Tensor indices;
    Tensor values = pooled<N>(name(), input, [&](const Tensor& x) {
        if constexpr (N == 3) {
            auto r = functional::max_pool3d_with_indices(x, options_.kernel_size().values, options_.stride().values,
                                                         options_.padding().values, options_.dilation().values,
                                                         options_.ceil_mode());
            indices = r.indices;
            return r.values;
        }
        auto r = functional::max_pool2d_with_indices(x, as2d<N>(options_.kernel_size(), 1),
                                                     as2d<N>(options_.stride(), 1), as2d<N>(options_.padding(), 0),
                                                     as2d<N>(options_.dilation(), 1), options_.ceil_mode());
        indices = r.indices;
        return r.values;
    });
    if (N == 1) indices = indices.squeeze(2);
    if (input.dim() == static_cast<std::int64_t>(N) + 1) indices = indices.squeeze(0);
    return {values, indices};
}

template <std::size_t N>
std::string MaxPoolNd<N>::extra_repr() const {
    return "kernel_size=" + tuple_or_int<N>(options_.kernel_size()) + ", stride=" + tuple_or_int<N>(options_.stride()) +
           ", padding=" + tuple_or_int<N>(options_.padding()) + ", dilation=" + tuple_or_int<N>(options_.dilation()) +
           ", ceil_mode=" + (options_.ceil_mode() ? "True" : "False");
}

template <std::size_t N>
Tensor AvgPoolNd<N>::forward(const Tensor& input) {
    return pooled<N>(name(), input, [&](const Tensor& x) {
        if constexpr (N == 3) {
            return functional::avg_pool3d(x, options_.kernel_size().values, options_.stride().values,
                                          options_.padding().values, options_.ceil_mode(), options_.count_include_pad(),
                                          options_.divisor_override());
        }
        return functional::avg_pool2d(x, as2d<N>(options_.kernel_size(), 1), as2d<N>(options_.stride(), 1),
                                      as2d<N>(options_.padding(), 0), options_.ceil_mode(),
                                      options_.count_include_pad(), options_.divisor_override());
    });
}

template <std::size_t N>
std::string AvgPoolNd<N>::extra_repr() const {
    return "kernel_size=" + tuple_or_int<N>(options_.kernel_size(), N == 1) +
           ", stride=" + tuple_or_int<N>(options_.stride(), N == 1) +
           ", padding=" + tuple_or_int<N>(options_.padding(), N == 1);
}

template <std::size_t N>
Tensor AdaptiveAvgPoolNd<N>::forward(const Tensor& input) {
    return pooled<N>(
        name(), input,
        [&](const Tensor& x) {
            if constexpr (N == 3) return functional::adaptive_avg_pool3d(x, options_.output_size().values);
            return functional::adaptive_avg_pool2d(x, as2d<N>(options_.output_size(), 1));
        },
        EmptyDims::Any);
}

template <std::size_t N>
std::string AdaptiveAvgPoolNd<N>::extra_repr() const {
    return "output_size=" + tuple_or_int<N>(options_.output_size());
}

namespace {

void check_norm_type(const std::string& who, double p) {
    if (!std::isfinite(p) || p <= 0.0)
        throw ValueError(who + ": norm_type must be finite and positive, got " + detail::python_float(p));
}

template <std::size_t N>
Tensor lp_pool(const std::string& who, const Tensor& input, const LPPoolOptions<N>& options) {
    check_norm_type(who, options.norm_type());
    const ExpandingArray<N>& kernel = options.kernel_size();
    const ExpandingArray<N> stride = options.stride().value_or(kernel);
    const double p = options.norm_type();
    std::int64_t window = 1;
    for (std::size_t d = 0; d < N; ++d) window *= kernel[d];
    return pooled<N>(who, input, [&](const Tensor& x) {
        const Tensor mean = functional::avg_pool2d(x.pow(p), as2d<N>(kernel, 1), as2d<N>(stride, 1), {0, 0},
                                                   options.ceil_mode(), true, 0);
        // PyTorch's formula: sign(s) * relu(|s|) is s with its NaN kept; a negative mean (odd p) gives NaN.
        return (mean.sign() * mean.abs().relu() * static_cast<double>(window)).pow(1.0 / p);
    });
}

}  // namespace

Tensor functional::lp_pool1d(const Tensor& input, const LPPool1dOptions& options) {
    return lp_pool<1>("lp_pool1d", input, options);
}

Tensor functional::lp_pool2d(const Tensor& input, const LPPool2dOptions& options) {
    return lp_pool<2>("lp_pool2d", input, options);
}

template <std::size_t N>
LPPoolNd<N>::LPPoolNd(LPPoolOptions<N> options) : options_(std::move(options)) {
    check_norm_type("LPPool" + std::to_string(N) + "d", options_.norm_type());
}

template <std::size_t N>
Tensor LPPoolNd<N>::forward(const Tensor& input) {
    return lp_pool<N>(name(), input, options_);
}

template <std::size_t N>
std::string LPPoolNd<N>::extra_repr() const {
    const auto& stride = options_.stride();
    return "norm_type=" + detail::python_float(options_.norm_type()) +
           ", kernel_size=" + tuple_or_int<N>(options_.kernel_size()) +
           ", stride=" + (stride ? tuple_or_int<N>(*stride) : "None") +
           ", ceil_mode=" + (options_.ceil_mode() ? "True" : "False");
}

template class LPPoolNd<1>;
template class LPPoolNd<2>;
template class MaxPoolNd<1>;
template class MaxPoolNd<2>;
template class MaxPoolNd<3>;
template class AvgPoolNd<1>;
template class AvgPoolNd<2>;
template class AvgPoolNd<3>;
template class AdaptiveAvgPoolNd<1>;
template class AdaptiveAvgPoolNd<2>;
template class AdaptiveAvgPoolNd<3>;

}  // namespace lazynn::nn
