#pragma once
// Batch normalisation: BatchNorm1d/2d/3d and the lazy twins LazyBatchNorm1d/2d/3d.

#include <lazynn/module.hpp>
#include <lazynn/ops/normalization.hpp>
#include <lazynn/nn/fusion.hpp>

#include <optional>

namespace lazynn::nn {

namespace functional {
/// The normalisation ops of the core (lazynn/ops/normalization.hpp), under PyTorch's F.* names.
using ops::group_norm;
using ops::layer_norm;
}  // namespace functional

struct BatchNormOptions {
    BatchNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT: BatchNorm2d(16)
    BatchNormOptions& eps(double v) { eps_ = v; return *this; }
    /// std::nullopt: a cumulative moving average (PyTorch's momentum=None).
    BatchNormOptions& momentum(std::optional<double> v) { momentum_ = v; return *this; }
    BatchNormOptions& affine(bool v) { affine_ = v; return *this; }
    BatchNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }
    std::int64_t num_features_;
    double eps_ = 1e-5;
    std::optional<double> momentum_ = 0.1;
    bool affine_ = true;
    bool track_running_stats_ = true;
};

/// A lazy batch norm's options: no num_features (inferred), PyTorch's LazyBatchNorm defaults.
struct LazyBatchNormOptions {
    LazyBatchNormOptions& eps(double v) { eps_ = v; return *this; }
    LazyBatchNormOptions& momentum(std::optional<double> v) { momentum_ = v; return *this; }
    LazyBatchNormOptions& affine(bool v) { affine_ = v; return *this; }
    LazyBatchNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }
    /// The concrete layer's options, num_features 0 until the first forward.
    BatchNormOptions batch_norm_options() const {
        return BatchNormOptions(0).eps(eps_).momentum(momentum_).affine(affine_).track_running_stats(track_running_stats_);
    }
    double eps_ = 1e-5;
    std::optional<double> momentum_ = 0.1;
    bool affine_ = true;
    bool track_running_stats_ = true;
};

/// Normalises each channel over the batch (and spatial dims): y = (x - mean) / sqrt(var + eps) * w + b.
/// Training uses the batch's statistics and updates running_mean/var (unbiased variance);
/// eval uses the running statistics (unless track_running_stats is false).
class BatchNormBase : public Module, public FusesFollowingReLU, public IsChannelNormalization {
public:
    /// Shapes: input [N, C, *] (rank given by the subclass) -> same shape
    Tensor forward(const Tensor& input) override { return forward_then(input, false); }
    /// relu(forward(input)) in one pass and one autograd node (no hooks run): Sequential's fusion
    /// of a following ReLU, in training as in evaluation.
    Tensor forward_relu(const Tensor& input) override { return forward_then(input, true); }
    /// In eval mode with running statistics, for an input rank this layer accepts: the fixed
    /// normalisation it applies (Sequential folds it into a preceding convolution).
    std::optional<ChannelNormalization> channel_normalization(std::int64_t input_dim) const override;
    virtual void reset_parameters();
    void reset_running_stats();
    std::string extra_repr() const override;
    const BatchNormOptions& options() const { return options_; }
    std::int64_t num_features() const { return options_.num_features_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};
    Buffer running_mean{this, "running_mean"};
    Buffer running_var{this, "running_var"};
    Buffer num_batches_tracked{this, "num_batches_tracked"};

protected:
    struct Uninitialized {};
    BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name);
    BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name, Uninitialized);
    BatchNormOptions options_;
    std::vector<std::int64_t> ranks_;   // accepted input ranks

private:
    Tensor forward_then(const Tensor& input, bool relu);
};

#define LAZYNN_BATCHNORM(Class, ...)                                                                         \
    class Class : public BatchNormBase {                                                                     \
        LAZYNN_MODULE(Class)                                                                                 \
    public:                                                                                                  \
        explicit Class(BatchNormOptions options) : BatchNormBase(std::move(options), {__VA_ARGS__}, #Class) {} \
                                                                                                             \
    protected:                                                                                               \
        Class(BatchNormOptions options, Uninitialized u) : BatchNormBase(std::move(options), {__VA_ARGS__}, #Class, u) {} \
    }

LAZYNN_BATCHNORM(BatchNorm1d, 2, 3);
LAZYNN_BATCHNORM(BatchNorm2d, 4);
LAZYNN_BATCHNORM(BatchNorm3d, 5);
#undef LAZYNN_BATCHNORM

/// Lazy twins: num_features = input.size(1). PyTorch's lazy defaults (affine, tracked stats);
/// num_batches_tracked is a real tensor from construction. With neither affine nor tracked
/// statistics there is nothing to infer and num_features stays 0, as in PyTorch.
#define LAZYNN_LAZY_BATCHNORM(Class, Concrete)                                              \
    class Class : public Concrete {                                                         \
        LAZYNN_MODULE(Class)                                                                \
    public:                                                                                 \
        Class() : Class(LazyBatchNormOptions()) {}                                          \
        explicit Class(const LazyBatchNormOptions& options) : Class(options.batch_norm_options()) {} \
        /** The older form: num_features in the options is ignored (pass 0). */            \
        explicit Class(BatchNormOptions options);                                           \
        void initialize_parameters(const std::vector<Tensor>& inputs) override;             \
        void reset_parameters() override;                                                   \
                                                                                            \
    protected:                                                                              \
        void lazy_load_finalize() override;                                                 \
    }

LAZYNN_LAZY_BATCHNORM(LazyBatchNorm1d, BatchNorm1d);
LAZYNN_LAZY_BATCHNORM(LazyBatchNorm2d, BatchNorm2d);
LAZYNN_LAZY_BATCHNORM(LazyBatchNorm3d, BatchNorm3d);
#undef LAZYNN_LAZY_BATCHNORM

struct InstanceNormOptions {
    InstanceNormOptions(std::int64_t num_features) : num_features_(num_features) {}  // NOLINT: InstanceNorm2d(16)
    InstanceNormOptions& eps(double v) { eps_ = v; return *this; }
    InstanceNormOptions& momentum(std::optional<double> v) { momentum_ = v; return *this; }
    InstanceNormOptions& affine(bool v) { affine_ = v; return *this; }
    InstanceNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }
    std::int64_t num_features_;
    double eps_ = 1e-5;
    std::optional<double> momentum_ = 0.1;
    bool affine_ = false;               // PyTorch's InstanceNorm defaults
    bool track_running_stats_ = false;
};

/// A lazy instance norm's options: no num_features (inferred), and PyTorch's LazyInstanceNorm
/// defaults, which are LazyBatchNorm's (affine and tracked statistics on), not InstanceNorm's.
struct LazyInstanceNormOptions {
    LazyInstanceNormOptions& eps(double v) { eps_ = v; return *this; }
    LazyInstanceNormOptions& momentum(std::optional<double> v) { momentum_ = v; return *this; }
    LazyInstanceNormOptions& affine(bool v) { affine_ = v; return *this; }
    LazyInstanceNormOptions& track_running_stats(bool v) { track_running_stats_ = v; return *this; }
    /// The concrete layer's options, num_features 0 until the first forward.
    InstanceNormOptions instance_norm_options() const {
        return InstanceNormOptions(0).eps(eps_).momentum(momentum_).affine(affine_).track_running_stats(track_running_stats_);
    }
    double eps_ = 1e-5;
    std::optional<double> momentum_ = 0.1;
    bool affine_ = true;
    bool track_running_stats_ = true;
};

/// Normalises each (sample, channel) over its spatial dims. Runs as batch norm over
/// [1, N*C, spatial], the way PyTorch computes it; running statistics average over the batch.
class InstanceNormBase : public Module {
public:
    /// Shapes: input [N, C, *spatial] or unbatched [C, *spatial] -> same shape
    Tensor forward(const Tensor& input) override;
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const InstanceNormOptions& options() const { return options_; }
    std::int64_t num_features() const { return options_.num_features_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};
    Buffer running_mean{this, "running_mean"};
    Buffer running_var{this, "running_var"};
    Buffer num_batches_tracked{this, "num_batches_tracked"};

protected:
    struct Uninitialized {};
    InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name);
    InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name, Uninitialized);
    InstanceNormOptions options_;
    std::int64_t spatial_dims_;
};

#define LAZYNN_INSTANCENORM(Class, Dims)                                                                             \
    class Class : public InstanceNormBase {                                                                          \
        LAZYNN_MODULE(Class)                                                                                         \
    public:                                                                                                          \
        explicit Class(InstanceNormOptions options) : InstanceNormBase(std::move(options), Dims, #Class) {}           \
                                                                                                                     \
    protected:                                                                                                       \
        Class(InstanceNormOptions options, Uninitialized u) : InstanceNormBase(std::move(options), Dims, #Class, u) {} \
    }

LAZYNN_INSTANCENORM(InstanceNorm1d, 1);
LAZYNN_INSTANCENORM(InstanceNorm2d, 2);
LAZYNN_INSTANCENORM(InstanceNorm3d, 3);
#undef LAZYNN_INSTANCENORM

/// Lazy twins with PyTorch's lazy defaults (affine and tracked statistics on, like LazyBatchNorm):
/// num_features = input.size(1).
#define LAZYNN_LAZY_INSTANCENORM(Class, Concrete)                                                   \
    class Class : public Concrete {                                                                 \
        LAZYNN_MODULE(Class)                                                                        \
    public:                                                                                         \
        Class() : Class(LazyInstanceNormOptions()) {}                                               \
        explicit Class(const LazyInstanceNormOptions& options);                                     \
        /** Refused: InstanceNormOptions carries InstanceNorm's defaults (affine and tracked       \
            statistics off), which would silently replace the lazy ones. Use LazyInstanceNormOptions. */ \
        explicit Class(InstanceNormOptions options) = delete;                                       \
        void initialize_parameters(const std::vector<Tensor>& inputs) override;                     \
        void reset_parameters() override;                                                           \
                                                                                                    \
    protected:                                                                                      \
        void lazy_load_finalize() override;                                                         \
    }

LAZYNN_LAZY_INSTANCENORM(LazyInstanceNorm1d, InstanceNorm1d);
LAZYNN_LAZY_INSTANCENORM(LazyInstanceNorm2d, InstanceNorm2d);
LAZYNN_LAZY_INSTANCENORM(LazyInstanceNorm3d, InstanceNorm3d);
#undef LAZYNN_LAZY_INSTANCENORM

/// Normalises over the trailing `normalized_shape` dims of each sample, with an elementwise affine.
class LayerNorm : public Module {
    LAZYNN_MODULE(LayerNorm)
public:
    explicit LayerNorm(Shape normalized_shape, double eps = 1e-5, bool elementwise_affine = true);
    /// Shapes: input [*, *normalized_shape] -> same shape
    Tensor forward(const Tensor& input) override;
    virtual void reset_parameters();
    std::string extra_repr() const override;
    const Shape& normalized_shape() const { return normalized_shape_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    struct Uninitialized {};
    LayerNorm(std::int64_t trailing_dims, double eps, bool elementwise_affine, Uninitialized);
    Shape normalized_shape_;
    double eps_;
    bool affine_;
};

/// A LayerNorm (which PyTorch does not ship lazily) whose normalized_shape is the last
/// `trailing_dims` sizes of the first input.
class LazyLayerNorm : public LayerNorm {
    LAZYNN_MODULE(LazyLayerNorm)
public:
    explicit LazyLayerNorm(std::int64_t trailing_dims = 1, double eps = 1e-5, bool elementwise_affine = true);
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override;
    std::int64_t trailing_dims_;
};

/// Normalises each sample over groups of channels: [N, C, *] seen as [N, G, C/G * *].
class GroupNorm : public Module {
    LAZYNN_MODULE(GroupNorm)
public:
    GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps = 1e-5, bool affine = true);
    /// Shapes: input [N, C, *] -> same shape
    Tensor forward(const Tensor& input) override;
    virtual void reset_parameters();
    std::string extra_repr() const override;
    std::int64_t num_channels() const { return num_channels_; }

    Parameter weight{this, "weight"};
    Parameter bias{this, "bias"};

protected:
    struct Uninitialized {};
    GroupNorm(std::int64_t num_groups, double eps, bool affine, Uninitialized);
    std::int64_t num_groups_, num_channels_;
    double eps_;
    bool affine_;
};

/// A GroupNorm (requested in pytorch#161869) whose num_channels is read from input.size(1).
class LazyGroupNorm : public GroupNorm {
    LAZYNN_MODULE(LazyGroupNorm)
public:
    explicit LazyGroupNorm(std::int64_t num_groups, double eps = 1e-5, bool affine = true);
    void initialize_parameters(const std::vector<Tensor>& inputs) override;
    void reset_parameters() override;

protected:
    void lazy_load_finalize() override { num_channels_ = weight.defined() ? weight.size(0) : num_channels_; }
};

/// Normalises each element by the activity of `size` neighbouring channels (AlexNet's LRN):
/// x / (k + alpha/size * sum of x^2 over the window)^beta.
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
