#pragma once
// MaxUnpool1d/2d/3d: the partial inverse of max pooling (PyTorch's nn.MaxUnpoolNd). Each value is
// written where the pooling's indices say its maximum came from; everything else is zero.
// The layers take two tensors (values, indices): they are TypedModules (<lazynn/typed_module.hpp>),
// so hooks see both inputs and containers can feed them.

#include <lazynn/arg.hpp>
#include <lazynn/nn/conv.hpp>
#include <lazynn/typed_module.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lazynn::nn {

/// PyTorch's MaxUnpoolNd arguments: kernel_size, stride (default: kernel_size), padding=0.
template <std::size_t N>
struct MaxUnpoolOptions {
    MaxUnpoolOptions(ExpandingArray<N> kernel_size) : kernel_size_(kernel_size) {}  // NOLINT: MaxUnpool2d({2, 3})
    MaxUnpoolOptions(std::int64_t kernel_size) : kernel_size_(kernel_size) {}       // NOLINT: MaxUnpool2d(2)
    LAZYNN_ARG(ExpandingArray<N>, kernel_size);
    LAZYNN_ARG(std::optional<ExpandingArray<N>>, stride);
    LAZYNN_ARG(ExpandingArray<N>, padding) = 0;
};
using MaxUnpool1dOptions = MaxUnpoolOptions<1>;
using MaxUnpool2dOptions = MaxUnpoolOptions<2>;
using MaxUnpool3dOptions = MaxUnpoolOptions<3>;

namespace functional {
/// F.max_unpool{N}d(input, indices, kernel_size, stride, padding, output_size): `output_size` holds
/// the N spatial sizes (or N + 2 with batch and channels, whose first two are ignored, as PyTorch
/// does); by default (in - 1) * stride - 2 * padding + kernel along each dim.
///   requires: indices int64 with input's shape, each in [0, prod(output spatial sizes)) (DtypeError,
///             ShapeError, RuntimeError with PyTorch's messages); output_size within stride of the
///             default (ValueError).
/// Shapes: input, indices [N, C, *in] or [C, *in] -> [N, C, *out] or [C, *out]
template <std::size_t N>
Tensor max_unpool(const Tensor& input, const Tensor& indices, const MaxUnpoolOptions<N>& options,
                  const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt);
inline Tensor max_unpool1d(const Tensor& input, const Tensor& indices, const MaxUnpoolOptions<1>& options,
                           const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt) {
    return max_unpool<1>(input, indices, options, output_size);
}
inline Tensor max_unpool2d(const Tensor& input, const Tensor& indices, const MaxUnpoolOptions<2>& options,
                           const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt) {
    return max_unpool<2>(input, indices, options, output_size);
}
inline Tensor max_unpool3d(const Tensor& input, const Tensor& indices, const MaxUnpoolOptions<3>& options,
                           const std::optional<std::vector<std::int64_t>>& output_size = std::nullopt) {
    return max_unpool<3>(input, indices, options, output_size);
}
}  // namespace functional

/// The N-d unpooling shared by MaxUnpool1d/2d/3d (which only name it).
template <std::size_t N>
class MaxUnpoolNd : public TypedModule<Tensor(const Tensor&, const Tensor&)> {
public:
    explicit MaxUnpoolNd(MaxUnpoolOptions<N> options) : options_(std::move(options)) {}
    /// Shapes: input, indices [B, C, *in] or [C, *in] -> [B, C, *out] (the default output size)
    Tensor forward(const Tensor& input, const Tensor& indices) override;
    /// With PyTorch's output_size (hooks run as for the two-tensor call).
    Tensor operator()(const Tensor& input, const Tensor& indices, const std::vector<std::int64_t>& output_size);
    using TypedModule<Tensor(const Tensor&, const Tensor&)>::operator();
    std::string extra_repr() const override;
    const MaxUnpoolOptions<N>& options() const { return options_; }

private:
    MaxUnpoolOptions<N> options_;
};

/// Example:
///     auto [values, indices] = nn::MaxPool1d(nn::MaxPool1dOptions(2)).forward_with_indices(x);
///     Tensor restored = nn::MaxUnpool1d(2)(values, indices);   // [N, C, L] with zeros off the maxima
class MaxUnpool1d : public MaxUnpoolNd<1> {
    LAZYNN_MODULE(MaxUnpool1d)
public:
    explicit MaxUnpool1d(MaxUnpoolOptions<1> options) : MaxUnpoolNd<1>(std::move(options)) { set_name("MaxUnpool1d"); }
};

/// Example:
///     nn::MaxUnpool2d unpool(nn::MaxUnpool2dOptions(2));   // values, indices [N, C, 2, 2] -> [N, C, 4, 4]
class MaxUnpool2d : public MaxUnpoolNd<2> {
    LAZYNN_MODULE(MaxUnpool2d)
public:
    explicit MaxUnpool2d(MaxUnpoolOptions<2> options) : MaxUnpoolNd<2>(std::move(options)) { set_name("MaxUnpool2d"); }
};

/// Example:
///     nn::MaxUnpool3d unpool(nn::MaxUnpool3dOptions({2, 1, 2}));
class MaxUnpool3d : public MaxUnpoolNd<3> {
    LAZYNN_MODULE(MaxUnpool3d)
public:
    explicit MaxUnpool3d(MaxUnpoolOptions<3> options) : MaxUnpoolNd<3>(std::move(options)) { set_name("MaxUnpool3d"); }
};

}  // namespace lazynn::nn
