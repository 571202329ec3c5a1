#pragma once
// Pooling: MaxPool1d/2d/3d, AvgPool1d/2d/3d, AdaptiveAvgPool1d/2d/3d.

#include <lazynn/ops/pooling.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/conv.hpp>

namespace lazynn::nn {

namespace functional {
/// The pooling ops of the core (lazynn/ops/pooling.hpp), under PyTorch's F.* names.
using ops::max_pool2d_with_indices;
using ops::max_pool2d;
using ops::avg_pool2d;
using ops::adaptive_avg_pool2d;
using ops::max_pool3d_with_indices;
using ops::avg_pool3d;
using ops::adaptive_avg_pool3d;
}  // namespace functional

template <std::size_t N>
struct MaxPoolOptions {
    MaxPoolOptions(ExpandingArray<N> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
    MaxPoolOptions& stride(ExpandingArray<N> v) { stride_ = v; return *this; }
    MaxPoolOptions& padding(ExpandingArray<N> v) { padding_ = v; return *this; }
    MaxPoolOptions& dilation(ExpandingArray<N> v) { dilation_ = v; return *this; }
    MaxPoolOptions& ceil_mode(bool v) { ceil_mode_ = v; return *this; }
    ExpandingArray<N> kernel_size_, stride_;
    ExpandingArray<N> padding_{0}, dilation_{1};
    bool ceil_mode_ = false;
};

template <std::size_t N>
struct AvgPoolOptions {
    AvgPoolOptions(ExpandingArray<N> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
    AvgPoolOptions& stride(ExpandingArray<N> v) { stride_ = v; return *this; }
    AvgPoolOptions& padding(ExpandingArray<N> v) { padding_ = v; return *this; }
    AvgPoolOptions& ceil_mode(bool v) { ceil_mode_ = v; return *this; }
    AvgPoolOptions& count_include_pad(bool v) { count_include_pad_ = v; return *this; }
    AvgPoolOptions& divisor_override(std::int64_t v) { divisor_override_ = v; return *this; }
    ExpandingArray<N> kernel_size_, stride_;
    ExpandingArray<N> padding_{0};
    bool ceil_mode_ = false;
    bool count_include_pad_ = true;
    std::int64_t divisor_override_ = 0;
};

template <std::size_t N>
class MaxPoolNd : public Module {
public:
    explicit MaxPoolNd(MaxPoolOptions<N> options);
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *spatial']
    Tensor forward(const Tensor& input) override;
    /// PyTorch's return_indices=True.
    ValuesIndices forward_with_indices(const Tensor& input);
    std::string extra_repr() const override;

protected:
    MaxPoolOptions<N> options_;
};

template <std::size_t N>
class AvgPoolNd : public Module {
public:
    explicit AvgPoolNd(AvgPoolOptions<N> options);
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *spatial']
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

protected:
    AvgPoolOptions<N> options_;
};

template <std::size_t N>
class AdaptiveAvgPoolNd : public Module {
public:
    explicit AdaptiveAvgPoolNd(ExpandingArray<N> output_size);
    /// Shapes: input [B, C, *spatial] or [C, *spatial] -> [B, C, *output_size]
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

protected:
    ExpandingArray<N> output_size_;
};

#define LAZYNN_POOL(Class, Base, N, Options)                           \
    class Class : public Base<N> {                                     \
        LAZYNN_MODULE(Class)                                           \
    public:                                                            \
        explicit Class(Options<N> options) : Base<N>(std::move(options)) { set_name(#Class); } \
    }

LAZYNN_POOL(MaxPool1d, MaxPoolNd, 1, MaxPoolOptions);
LAZYNN_POOL(MaxPool2d, MaxPoolNd, 2, MaxPoolOptions);
LAZYNN_POOL(AvgPool1d, AvgPoolNd, 1, AvgPoolOptions);
LAZYNN_POOL(AvgPool2d, AvgPoolNd, 2, AvgPoolOptions);
LAZYNN_POOL(AdaptiveAvgPool1d, AdaptiveAvgPoolNd, 1, ExpandingArray);
LAZYNN_POOL(AdaptiveAvgPool2d, AdaptiveAvgPoolNd, 2, ExpandingArray);
LAZYNN_POOL(MaxPool3d, MaxPoolNd, 3, MaxPoolOptions);
LAZYNN_POOL(AvgPool3d, AvgPoolNd, 3, AvgPoolOptions);
LAZYNN_POOL(AdaptiveAvgPool3d, AdaptiveAvgPoolNd, 3, ExpandingArray);
#undef LAZYNN_POOL

extern template class MaxPoolNd<1>;
extern template class MaxPoolNd<2>;
extern template class MaxPoolNd<3>;
extern template class AvgPoolNd<1>;
extern template class AvgPoolNd<2>;
extern template class AvgPoolNd<3>;
extern template class AdaptiveAvgPoolNd<1>;
extern template class AdaptiveAvgPoolNd<2>;
extern template class AdaptiveAvgPoolNd<3>;

}  // namespace lazynn::nn
