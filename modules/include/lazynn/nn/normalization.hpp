#pragma once
// Normalisation layers: BatchNormNd, InstanceNormNd, LayerNorm, GroupNorm, LocalResponseNorm and the lazy twins.

#include <lazynn/arg.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/module.hpp>
#include <lazynn/nn/functional.hpp>  // the functional forms (F.*)
#include <lazynn/ops/normalization.hpp>
#include <lazynn/nn/fusion.hpp>

#include <cstdint>
#include <optional>
#include <vector>

namespace lazynn::nn {

/// Batch norm's options (PyTorch's BatchNorm2d(num_features, eps=1e-5, momentum=0.1, affine=True,
/// track_running_stats=True)).
struct BatchNormOptions {
    BatchNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT: BatchNorm2d(16)
    LAZYNN_ARG(std::int64_t, num_features);
    LAZYNN_ARG(double, eps) = 1e-5;
    /// std::nullopt: a cumulative moving average (PyTorch's momentum=None).
    LAZYNN_ARG(std::optional<double>, momentum) = 0.1;
    LAZYNN_ARG(bool, affine) = true;
    LAZYNN_ARG(bool, track_running_stats) = true;
};

/// Instance norm's options (PyTorch's InstanceNorm2d(num_features, eps=1e-5, momentum=0.1,
/// affine=False, track_running_stats=False)).
struct InstanceNormOptions {
    InstanceNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT: InstanceNorm2d(16)
    LAZYNN_ARG(std::int64_t, num_features);
    LAZYNN_ARG(double, eps) = 1e-5;
    /// std::nullopt: a cumulative moving average (PyTorch's momentum=None).
    LAZYNN_ARG(std::optional<double>, momentum) = 0.1;
    LAZYNN_ARG(bool, affine) = false;  // PyTorch's InstanceNorm defaults
    LAZYNN_ARG(bool, track_running_stats) = false;
};

/// A lazy norm's options, LazyBatchNorm's and LazyInstanceNorm's alike: no num_features (inferred)
/// and PyTorch's lazy defaults, which are batch norm's for both (affine and tracked statistics on;
/// InstanceNorm's own defaults are off).
struct LazyNormOptions {
    LAZYNN_ARG(double, eps) = 1e-5;
    /// std::nullopt: a cumulative moving average (PyTorch's momentum=None).
    LAZYNN_ARG(std::optional<double>, momentum) = 0.1;
    LAZYNN_ARG(bool, affine) = true;
    LAZYNN_ARG(bool, track_running_stats) = true;

public:
    /// The concrete layer's options, num_features 0 until the first forward.
    BatchNormOptions batch_norm_options() const {
        return BatchNormOptions(0).eps(eps_).momentum(momentum_).affine(affine_).track_running_stats(
            track_running_stats_);
    }
    InstanceNormOptions instance_norm_options() const {
        return InstanceNormOptions(0).eps(eps_).momentum(momentum_).affine(affine_).track_running_stats(
            track_running_stats_);
    }
};
using LazyBatchNormOptions = LazyNormOptions;
using LazyInstanceNormOptions = LazyNormOptions;

/// Normalises each channel over the batch (and spatial dims): y = (x - mean) / sqrt(var + eps) * w + b.
/// Training uses the batch's statistics and updates running_mean/var (unbiased variance);
/// eval uses the running statistics (unless track_running_stats is false).
class BatchNormBase : public Module,
                      public FusesFollowingReLU,
                      public FusesFollowingReLUMaxPool2x2,
                      public IsChannelNormalization {
public:
    /// Shapes: input [N, C, *] (rank given by the subclass) -> same shape
    Tensor forward(const Tensor& input) override {
        check_input(input);
        return normalize(input, Epilogue::none);
    }
    /// relu(forward(input)) in one pass and one autograd node (no hooks run): Sequential's fusion
    /// of a following ReLU, in training as in evaluation.
    Tensor forward_relu(const Tensor& input) override {
        check_input(input);
        return normalize(input, Epilogue::relu);
    }
    /// max_pool2d(relu(forward(input)), 2) through ops::batch_norm_relu_max_pool2x2, for a non-empty
    /// float32 or float64 input [N, C, H, W] with H, W >= 2; forward()'s error for an input forward()
    /// rejects; std::nullopt for the rest.
    /// Shapes: input [N, C, H, W] -> [N, C, H / 2, W / 2]
    std::optional<Tensor> forward_relu_max_pool2x2(const Tensor& input) override;
    /// In eval mode with running statistics, for an input rank this layer accepts: the fixed
    /// normalisation it applies (Sequential folds it into a preceding convolution).
    std::optional<ChannelNormalization> channel_normalization(std::int64_t input_dim) const override;
    /// requires: the affine parameters and running statistics materialised. ensures: running
    /// statistics reset (mean 0, var 1, count 0), weight 1, bias 0.
    virtual void reset_parameters();
    void reset_running_stats();
    std::string extra_repr() const override;
    const BatchNormOptions& options() const { return options_; }
    std::int64_t num_features() const { return options_.num_features(); }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};
    Buffer running_mean{this, "running_mean"};
    Buffer running_var{this, "running_var"};
    Buffer num_batches_tracked{this, "num_batches_tracked"};

protected:
    BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name);
    /// For the lazy twins: the affine parameters and running statistics uninitialised
    /// (num_batches_tracked is a real tensor from construction, as in PyTorch).
    BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name, Uninitialized);
    /// Materialises the affine parameters and running statistics as [num_features] (the lazy protocol).
    void materialize_from_options();
    BatchNormOptions options_;
    std::vector<std::int64_t> ranks_;  // accepted input ranks

private:
    /// What runs after the normalisation in the same passes.
    enum class Epilogue { none, relu, relu_max_pool2x2 };
    /// Raises forward()'s error for an input it does not accept (dtype, rank, channels, a single
    /// value per channel in training).
    void check_input(const Tensor& input) const;
    /// The normalisation and its epilogue, running statistics updated; requires: check_input passed.
    Tensor normalize(const Tensor& input, Epilogue epilogue);
};

/// Batch norm over N spatial dims: BatchNorm1d ([N, C] or [N, C, L]), BatchNorm2d ([N, C, H, W]),
/// BatchNorm3d ([N, C, D, H, W]).
///
/// Example:
///     nn::BatchNorm2d bn(nn::BatchNormOptions(16).momentum(0.01));
///     Tensor y = bn(randn({8, 16, 5, 5}));
template <std::size_t N>
class BatchNormNd : public BatchNormBase {
    LAZYNN_MODULE(BatchNormNd)
public:
    explicit BatchNormNd(BatchNormOptions options) : BatchNormBase(std::move(options), input_ranks(), class_name()) {}

protected:
    BatchNormNd(BatchNormOptions options, Uninitialized u)
        : BatchNormBase(std::move(options), input_ranks(), class_name(), u) {}

private:
    static std::vector<std::int64_t> input_ranks() {
        return N == 1 ? std::vector<std::int64_t>{2, 3} : std::vector<std::int64_t>{N + 2};
    }
    static const char* class_name() { return N == 1 ? "BatchNorm1d" : N == 2 ? "BatchNorm2d" : "BatchNorm3d"; }
};
using BatchNorm1d = BatchNormNd<1>;
using BatchNorm2d = BatchNormNd<2>;
using BatchNorm3d = BatchNormNd<3>;

/// The lazy twin of a batch or instance norm (PyTorch's _LazyNormBase): num_features =
/// input.size(1). With neither affine nor tracked statistics there is nothing to infer and
/// num_features stays 0, as in PyTorch.
template <class Norm>
class LazyNorm : public Lazy<Norm> {
protected:
    using Lazy<Norm>::Lazy;
    void infer_options(const std::vector<Tensor>& inputs) override;
    /// Checks that the loaded weight, bias and running statistics are all [C] for one C, then
    /// num_features = C.
    void lazy_load_finalize() override;
};

/// BatchNormNd whose num_features is read from the first input, with PyTorch's lazy defaults
/// (affine, tracked statistics).
///
/// Example:
///     nn::LazyBatchNorm2d bn(nn::LazyBatchNormOptions().eps(1e-3));
///     Tensor y = bn(randn({8, 16, 5, 5}));   // now BatchNorm2d(16, eps=0.001, ...)
template <std::size_t N>
class LazyBatchNormNd : public LazyNorm<BatchNormNd<N>> {
    LAZYNN_MODULE(LazyBatchNormNd)
public:
    LazyBatchNormNd() : LazyBatchNormNd(LazyBatchNormOptions()) {}
    explicit LazyBatchNormNd(const LazyBatchNormOptions& options)
        : LazyNorm<BatchNormNd<N>>(options.batch_norm_options()) {}
    /// The older form: num_features in the options is ignored (pass 0).
    explicit LazyBatchNormNd(BatchNormOptions options) : LazyNorm<BatchNormNd<N>>(options.num_features(0)) {}
};
using LazyBatchNorm1d = LazyBatchNormNd<1>;
using LazyBatchNorm2d = LazyBatchNormNd<2>;
using LazyBatchNorm3d = LazyBatchNormNd<3>;

/// Normalises each (sample, channel) over its spatial dims. Runs as batch norm over
/// [1, N*C, spatial], the way PyTorch computes it; running statistics average over the batch.
class InstanceNormBase : public Module {
public:
    /// Shapes: input [N, C, *spatial] or unbatched [C, *spatial] -> same shape
    Tensor forward(const Tensor& input) override;
    /// requires: the affine parameters and running statistics materialised. ensures: running
    /// statistics reset (mean 0, var 1, count 0), weight 1, bias 0.
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const InstanceNormOptions& options() const { return options_; }
    std::int64_t num_features() const { return options_.num_features(); }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};
    Buffer running_mean{this, "running_mean"};
    Buffer running_var{this, "running_var"};
    Buffer num_batches_tracked{this, "num_batches_tracked"};

protected:
    InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name);
    InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name, Uninitialized);
    /// Materialises the affine parameters and running statistics as [num_features] (the lazy protocol).
    void materialize_from_options();
    InstanceNormOptions options_;
    std::int64_t spatial_dims_;
};

/// Instance norm over N spatial dims: InstanceNorm1d, InstanceNorm2d, InstanceNorm3d.
///
/// Example:
///     nn::InstanceNorm2d norm(nn::InstanceNormOptions(3).affine(true));
///     Tensor y = norm(randn({2, 3, 8, 8}));
template <std::size_t N>
class InstanceNormNd : public InstanceNormBase {
    LAZYNN_MODULE(InstanceNormNd)
public:
    explicit InstanceNormNd(InstanceNormOptions options) : InstanceNormBase(std::move(options), N, class_name()) {}

protected:
    InstanceNormNd(InstanceNormOptions options, Uninitialized u)
        : InstanceNormBase(std::move(options), N, class_name(), u) {}

private:
    static const char* class_name() { return N == 1 ? "InstanceNorm1d" : N == 2 ? "InstanceNorm2d" : "InstanceNorm3d"; }
};
using InstanceNorm1d = InstanceNormNd<1>;
using InstanceNorm2d = InstanceNormNd<2>;
using InstanceNorm3d = InstanceNormNd<3>;

/// InstanceNormNd whose num_features is read from the first input (input.size(1)), with PyTorch's
/// lazy defaults (affine and tracked statistics on, like LazyBatchNorm).
///
/// Example:
///     nn::LazyInstanceNorm2d norm(nn::LazyInstanceNormOptions().eps(1e-3));
///     Tensor y = norm(randn({2, 3, 4, 4}));   // now InstanceNorm2d(3, eps=0.001, ...)
template <std::size_t N>
class LazyInstanceNormNd : public LazyNorm<InstanceNormNd<N>> {
    LAZYNN_MODULE(LazyInstanceNormNd)
public:
    LazyInstanceNormNd() : LazyInstanceNormNd(LazyInstanceNormOptions()) {}
    explicit LazyInstanceNormNd(const LazyInstanceNormOptions& options)
        : LazyNorm<InstanceNormNd<N>>(options.instance_norm_options()) {}
    /// Refused: InstanceNormOptions carries InstanceNorm's defaults (affine and tracked
    /// statistics off), which would silently replace the lazy ones. Use LazyInstanceNormOptions.
    explicit LazyInstanceNormNd(InstanceNormOptions options) = delete;
};
using LazyInstanceNorm1d = LazyInstanceNormNd<1>;
using LazyInstanceNorm2d = LazyInstanceNormNd<2>;
using LazyInstanceNorm3d = LazyInstanceNormNd<3>;

/// LayerNorm's options (PyTorch's LayerNorm(normalized_shape, eps=1e-5, elementwise_affine=True)).
struct LayerNormOptions {
    LayerNormOptions(Shape normalized_shape)
        : normalized_shape_(std::move(normalized_shape)) {}  // NOLINT: LayerNorm({8})
    LAZYNN_ARG(Shape, normalized_shape);
    LAZYNN_ARG(double, eps) = 1e-5;
    LAZYNN_ARG(bool, elementwise_affine) = true;
};

/// Normalises over the trailing `normalized_shape` dims of each sample, with an elementwise affine.
///
/// Example:
///     nn::LayerNorm norm(nn::LayerNormOptions({8}).eps(1e-6));
///     Tensor y = norm(randn({4, 10, 8}));
class LayerNorm : public Module {
    LAZYNN_MODULE(LayerNorm)
public:
    explicit LayerNorm(LayerNormOptions options);
    explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true)
        : LayerNorm(LayerNormOptions(std::move(normalized_shape)).eps(eps).elementwise_affine(elementwise_affine)) {}
    /// Shapes: input [*, *normalized_shape] -> same shape
    Tensor forward(const Tensor& input) override;
    /// requires: weight and bias materialised. ensures: weight 1, bias 0.
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const Shape& normalized_shape() const { return options_.normalized_shape(); }
    const LayerNormOptions& options() const { return options_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    /// For the lazy twin: normalized_shape holds one 0 per trailing dim; weight and bias uninitialised.
    LayerNorm(LayerNormOptions options, Uninitialized);
    void materialize_from_options();
    LayerNormOptions options_;
};

/// A LayerNorm (which PyTorch does not ship lazily) whose normalized_shape is the last
/// `trailing_dims` sizes of the first input.
///
/// Example:
///     nn::LazyLayerNorm norm;          // normalises the last dim
///     Tensor y = norm(randn({4, 8}));  // now LayerNorm((8,), eps=1e-05, elementwise_affine=True)
class LazyLayerNorm : public Lazy<LayerNorm> {
    LAZYNN_MODULE(LazyLayerNorm)
public:
    explicit LazyLayerNorm(std::int64_t trailing_dims = 1, double eps = 1e-5, bool elementwise_affine = true);

protected:
    /// normalized_shape = the input's last trailing_dims sizes (also without affine parameters).
    void infer_options(const std::vector<Tensor>& inputs) override;
    bool sizes_known() const override { return normalized_shape()[0] != 0; }
    /// normalized_shape = weight's shape, after checking weight and bias agree.
    void lazy_load_finalize() override;
};

/// GroupNorm's options (PyTorch's GroupNorm(num_groups, num_channels, eps=1e-5, affine=True)).
struct GroupNormOptions {
    GroupNormOptions(std::int64_t num_groups, std::int64_t num_channels)
        : num_groups_(num_groups), num_channels_(num_channels) {}
    LAZYNN_ARG(std::int64_t, num_groups);
    LAZYNN_ARG(std::int64_t, num_channels);
    LAZYNN_ARG(double, eps) = 1e-5;
    LAZYNN_ARG(bool, affine) = true;
};

/// Normalises each sample over groups of channels: [N, C, *] seen as [N, G, C/G * *].
///
/// Example:
///     nn::GroupNorm norm(nn::GroupNormOptions(2, 6).eps(1e-3));
///     Tensor y = norm(randn({4, 6, 5}));
class GroupNorm : public Module {
    LAZYNN_MODULE(GroupNorm)
public:
    explicit GroupNorm(GroupNormOptions options);
    GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps = 1e-5, bool affine = true)
        : GroupNorm(GroupNormOptions(num_groups, num_channels).eps(eps).affine(affine)) {}
    /// Shapes: input [N, C, *] -> same shape
    Tensor forward(const Tensor& input) override;
    /// requires: weight and bias materialised. ensures: weight 1, bias 0.
    virtual void reset_parameters();
    std::string extra_repr() const override;
    std::int64_t num_channels() const { return options_.num_channels(); }
    const GroupNormOptions& options() const { return options_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    /// For the lazy twin: num_channels 0, weight and bias uninitialised.
    GroupNorm(GroupNormOptions options, Uninitialized);
    void materialize_from_options();
    GroupNormOptions options_;
};

/// A GroupNorm (requested in pytorch#161869) whose num_channels is read from input.size(1).
///
/// Example:
///     nn::LazyGroupNorm norm(2);
///     Tensor y = norm(randn({4, 6, 5}));   // now GroupNorm(2, 6, eps=1e-05, affine=True)
class LazyGroupNorm : public Lazy<GroupNorm> {
    LAZYNN_MODULE(LazyGroupNorm)
public:
    explicit LazyGroupNorm(std::int64_t num_groups, double eps = 1e-5, bool affine = true);

protected:
    /// num_channels = input.size(1), which num_groups must divide (also without affine parameters).
    void infer_options(const std::vector<Tensor>& inputs) override;
    bool sizes_known() const override { return options_.num_channels() != 0; }
    void lazy_load_finalize() override;
};

extern template class LazyNorm<BatchNorm1d>;
extern template class LazyNorm<BatchNorm2d>;
extern template class LazyNorm<BatchNorm3d>;
extern template class LazyNorm<InstanceNorm1d>;
extern template class LazyNorm<InstanceNorm2d>;
extern template class LazyNorm<InstanceNorm3d>;

/// Normalises each element by the activity of `size` neighbouring channels (AlexNet's LRN):
/// x / (k + alpha/size * sum of x^2 over the window)^beta.
///
/// Example:
///     nn::LocalResponseNorm lrn(5);
///     Tensor y = lrn(randn({2, 8, 6, 6}));
class LocalResponseNorm : public Module {
    LAZYNN_MODULE(LocalResponseNorm)
public:
    explicit LocalResponseNorm(std::int64_t size, double alpha = 1e-4, double beta = 0.75, double k = 1.0);
    /// Shapes: input [N, C, *] (at least 3-D) -> same shape
    Tensor forward(const Tensor& input) override;
    std::string extra_repr() const override;

private:
    std::int64_t size_;
    double alpha_, beta_, k_;
};

}  // namespace lazynn::nn
