#include "python_repr.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/normalization.hpp>
#include <lazynn/ops/normalization.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>

namespace lazynn::nn {
namespace {

/// PyTorch's _NormBase.extra_repr: "{num_features}, eps=.., momentum=.., affine=.., track_running_stats=..".
std::string norm_extra_repr(std::int64_t num_features, double eps, std::optional<double> momentum, bool affine, bool track) {
    char momentum_text[32] = "None";
    if (momentum) std::snprintf(momentum_text, sizeof momentum_text, "%g", *momentum);
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, "%lld, eps=%g, momentum=%s, affine=%s, track_running_stats=%s", static_cast<long long>(num_features),
                  eps, momentum_text, affine ? "True" : "False", track ? "True" : "False");
    return buffer;
}

}  // namespace

BatchNormBase::BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name)
    : options_(std::move(options)), ranks_(std::move(ranks)) {
    set_name(name);
    const std::int64_t c = options_.num_features_;
    if (options_.affine_) {
        weight = Parameter(empty({c}));
        bias = Parameter(empty({c}));
    }
    if (options_.track_running_stats_) {
        running_mean = Buffer(zeros({c}));
        running_var = Buffer(ones({c}));
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
    reset_parameters();
}

BatchNormBase::BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name, Uninitialized)
    : options_(std::move(options)), ranks_(std::move(ranks)) {
    set_name(name);
    if (options_.affine_) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
    if (options_.track_running_stats_) {
        running_mean = UninitializedBuffer();
        running_var = UninitializedBuffer();
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
}

std::optional<ChannelNormalization> BatchNormBase::channel_normalization(std::int64_t input_dim) const {
    if (is_training() || !running_mean.defined() || std::find(ranks_.begin(), ranks_.end(), input_dim) == ranks_.end()) return std::nullopt;
    return ChannelNormalization{running_mean, running_var, weight, bias, options_.eps_};
}

void BatchNormBase::reset_running_stats() {
    if (!options_.track_running_stats_) return;
    NoGradGuard no_grad;
    running_mean.zero_();
    running_var.fill_(1.0);
    num_batches_tracked.zero_();
}

void BatchNormBase::reset_parameters() {
    reset_running_stats();
    if (options_.affine_) {
        init::ones_(weight);
        init::zeros_(bias);
    }
}

Tensor BatchNormBase::forward_then(const Tensor& input, bool relu) {
    check_input_dtype(input, weight.defined() ? Tensor(weight) : Tensor(running_mean));
    const auto rank = input.dim();
    if (std::find(ranks_.begin(), ranks_.end(), rank) == ranks_.end()) {
        std::string expected;
        for (std::size_t i = 0; i < ranks_.size(); ++i) expected += (i ? "D or " : "") + std::to_string(ranks_[i]);
        throw ShapeError(name() + ": expected " + expected + "D input (got " + std::to_string(rank) + "D input of shape " +
                         shape_to_list(input.shape()) + ")");
    }
    const std::int64_t c = input.size(1);
    if (c != options_.num_features_ && (options_.affine_ || options_.track_running_stats_)) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input with " + std::to_string(options_.num_features_) +
                         " channels (dim 1), got input of shape " + shape_to_list(input.shape()));
    }
    const bool use_batch_stats = is_training() || !options_.track_running_stats_;
    const std::int64_t count = input.numel() / std::max<std::int64_t>(c, 1);
    if (is_training() && count <= 1) {
        throw ValueError("Expected more than 1 value per channel when training, got input size " + shape_to_list(input.shape()));
    }
    std::vector<double> batch_mean, batch_var;
    Tensor out = ops::batch_norm(input, weight, bias, running_mean, running_var, use_batch_stats, options_.eps_, relu, batch_mean, batch_var);
    if (is_training() && options_.track_running_stats_) {
        NoGradGuard no_grad;
        num_batches_tracked.add_(1.0);
        const double m = options_.momentum_ ? *options_.momentum_ : 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
        const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
        for (double& v : batch_var) v *= unbias;
        running_mean.mul_(1.0 - m).add_(tensor(batch_mean, {c}, kFloat64).to(running_mean.dtype()), m);
        running_var.mul_(1.0 - m).add_(tensor(batch_var, {c}, kFloat64).to(running_var.dtype()), m);
    }
    return out;
}

std::string BatchNormBase::extra_repr() const {
    return norm_extra_repr(options_.num_features_, options_.eps_, options_.momentum_, options_.affine_, options_.track_running_stats_);
}

namespace {

/// PyTorch's _LazyNormBase.initialize_parameters: num_features = input.size(1), then materialise
/// the affine parameters and running statistics that exist, and reset them.
template <class Lazy, class Options>
void lazy_norm_initialize(Lazy& m, Options& o, const std::vector<Tensor>& inputs) {
    if (inputs.empty()) throw TypeError(m.name() + ".initialize_parameters() missing 1 required positional argument: 'input'");
    if (!m.has_uninitialized_params()) return;
    if (inputs[0].dim() < 2) throw ShapeError(m.name() + ": cannot infer num_features from input of shape " + shape_to_list(inputs[0].shape()));
    o.num_features_ = inputs[0].size(1);
    NoGradGuard no_grad;
    const Shape shape{o.num_features_};
    if (o.affine_) {
        m.weight.materialize(shape);
        m.bias.materialize(shape);
    }
    if (o.track_running_stats_) {
        m.running_mean.materialize(shape);
        m.running_var.materialize(shape);
    }
    m.reset_parameters();
}

/// A lazy norm's affine parameters and running statistics as materialised from a checkpoint,
/// each from its own stored shape: they must all be [C] for one C before C is taken from them.
template <class Lazy>
void check_loaded_norm(const Lazy& m, const char* lazy_name) {
    std::int64_t channels = -1;
    const char* first = nullptr;
    const std::pair<const char*, const Tensor*> stored[] = {{"weight", &m.weight}, {"bias", &m.bias}, {"running_mean", &m.running_mean},
                                                            {"running_var", &m.running_var}};
    for (const auto& [what, t] : stored) {
        if (!t->defined() || Module::is_lazy(*t)) continue;
        if (t->dim() != 1 || t->size(0) == 0) {
            throw RuntimeError(std::string(lazy_name) + ": the loaded " + what + " has shape " + shape_to_list(t->shape()) +
                               ", expected [num_features]");
        }
        if (channels >= 0 && t->size(0) != channels) {
            throw RuntimeError(std::string(lazy_name) + ": the loaded " + what + " has " + std::to_string(t->size(0)) + " elements but the loaded " +
                               first + " has " + std::to_string(channels));
        }
        if (channels < 0) {
            channels = t->size(0);
            first = what;
        }
    }
}

}  // namespace

#define LAZYNN_LAZY_BATCHNORM_IMPL(Class, Concrete)                                                                   \
    Class::Class(BatchNormOptions options) : Concrete((options.num_features_ = 0, options), Uninitialized{}) {        \
        set_name(#Class);                                                                                             \
        make_lazy(#Concrete);                                                                                         \
    }                                                                                                                 \
    void Class::initialize_parameters(const std::vector<Tensor>& inputs) { lazy_norm_initialize(*this, options_, inputs); } \
    void Class::reset_parameters() {                                                                                  \
        if (!has_uninitialized_params() && options_.num_features_ != 0) Concrete::reset_parameters();                \
    }                                                                                                                 \
    void Class::lazy_load_finalize() {                                                                                \
        check_loaded_norm(*this, #Class);                                                                             \
        if (weight.defined()) options_.num_features_ = weight.size(0);                                               \
        else if (running_mean.defined()) options_.num_features_ = running_mean.size(0);                              \
    }

LAZYNN_LAZY_BATCHNORM_IMPL(LazyBatchNorm1d, BatchNorm1d)
LAZYNN_LAZY_BATCHNORM_IMPL(LazyBatchNorm2d, BatchNorm2d)
LAZYNN_LAZY_BATCHNORM_IMPL(LazyBatchNorm3d, BatchNorm3d)

// ---- InstanceNorm ----

InstanceNormBase::InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name)
    : options_(std::move(options)), spatial_dims_(spatial_dims) {
    set_name(name);
    const std::int64_t c = options_.num_features_;
    if (options_.affine_) {
        weight = Parameter(empty({c}));
        bias = Parameter(empty({c}));
    }
    if (options_.track_running_stats_) {
        running_mean = Buffer(zeros({c}));
        running_var = Buffer(ones({c}));
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
    reset_parameters();
}

InstanceNormBase::InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name, Uninitialized)
    : options_(std::move(options)), spatial_dims_(spatial_dims) {
    set_name(name);
    if (options_.affine_) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
    if (options_.track_running_stats_) {
        running_mean = UninitializedBuffer();
        running_var = UninitializedBuffer();
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
}

void InstanceNormBase::reset_parameters() {
    NoGradGuard no_grad;
    if (options_.track_running_stats_) {
        running_mean.zero_();
        running_var.fill_(1.0);
        num_batches_tracked.zero_();
    }
    if (options_.affine_) {
        init::ones_(weight);
        init::zeros_(bias);
    }
}

Tensor InstanceNormBase::forward(const Tensor& input_given) {
    check_input_dtype(input_given, weight.defined() ? Tensor(weight) : Tensor(running_mean));
    const std::int64_t batched = spatial_dims_ + 2;
    if (input_given.dim() != batched && input_given.dim() != batched - 1) {
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D (unbatched) or " + std::to_string(batched) +
                         "D (batched) input, got " + shape_to_list(input_given.shape()));
    }
    const bool unbatched = input_given.dim() == batched - 1;
    const Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    const std::int64_t n = input.size(0), c = input.size(1);
    if (c != options_.num_features_ && (options_.affine_ || options_.track_running_stats_)) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input with " + std::to_string(options_.num_features_) +
                         " channels, got input of shape " + shape_to_list(input_given.shape()));
    }
    const std::int64_t spatial = input.numel() / std::max<std::int64_t>(n * c, 1);
    const bool use_instance_stats = is_training() || !options_.track_running_stats_;
    if (use_instance_stats && spatial <= 1) {
        throw ValueError("Expected more than 1 spatial element when training, got input size " + shape_to_list(input_given.shape()));
    }
    auto repeat = [n, c](const Tensor& t) { return t.defined() ? t.unsqueeze(0).expand({n, c}).reshape({n * c}) : Tensor(); };
    std::vector<double> instance_mean, instance_var;
    Tensor out = ops::batch_norm(input.reshape({1, n * c, spatial}), repeat(weight), repeat(bias),
                                  use_instance_stats ? Tensor() : repeat(running_mean), use_instance_stats ? Tensor() : repeat(running_var),
                                  use_instance_stats, options_.eps_, /*relu=*/false, instance_mean, instance_var)
                     .reshape(input.shape());
    if (is_training() && options_.track_running_stats_) {
        // Like PyTorch's F.instance_norm: num_batches_tracked is not advanced; momentum=None
        // (a cumulative average) is not supported by instance norm there either, so 0.1 stands in.
        NoGradGuard no_grad;
        const double m = options_.momentum_.value_or(0.1);
        const double unbias = static_cast<double>(spatial) / static_cast<double>(spatial - 1);
        std::vector<double> mean_c(static_cast<std::size_t>(c), 0.0), var_c(static_cast<std::size_t>(c), 0.0);
        for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t ch = 0; ch < c; ++ch) {
                mean_c[static_cast<std::size_t>(ch)] += instance_mean[static_cast<std::size_t>(i * c + ch)] / static_cast<double>(n);
                var_c[static_cast<std::size_t>(ch)] += instance_var[static_cast<std::size_t>(i * c + ch)] * unbias / static_cast<double>(n);
            }
        }
        running_mean.mul_(1.0 - m).add_(tensor(mean_c, {c}, kFloat64).to(running_mean.dtype()), m);
        running_var.mul_(1.0 - m).add_(tensor(var_c, {c}, kFloat64).to(running_var.dtype()), m);
    }
    return unbatched ? out.squeeze(0) : out;
}

std::string InstanceNormBase::extra_repr() const {
    return norm_extra_repr(options_.num_features_, options_.eps_, options_.momentum_, options_.affine_, options_.track_running_stats_);
}


#define LAZYNN_LAZY_INSTANCENORM_IMPL(Class, Concrete)                                                                \
    Class::Class(const LazyInstanceNormOptions& options) : Concrete(options.instance_norm_options(), Uninitialized{}) { \
        set_name(#Class);                                                                                             \
        make_lazy(#Concrete);                                                                                         \
    }                                                                                                                 \
    void Class::initialize_parameters(const std::vector<Tensor>& inputs) { lazy_norm_initialize(*this, options_, inputs); } \
    void Class::reset_parameters() {                                                                                  \
        if (!has_uninitialized_params() && options_.num_features_ != 0) Concrete::reset_parameters();                \
    }                                                                                                                 \
    void Class::lazy_load_finalize() {                                                                                \
        check_loaded_norm(*this, #Class);                                                                             \
        if (weight.defined()) options_.num_features_ = weight.size(0);                                               \
        else if (running_mean.defined()) options_.num_features_ = running_mean.size(0);                              \
    }

LAZYNN_LAZY_INSTANCENORM_IMPL(LazyInstanceNorm1d, InstanceNorm1d)
LAZYNN_LAZY_INSTANCENORM_IMPL(LazyInstanceNorm2d, InstanceNorm2d)
LAZYNN_LAZY_INSTANCENORM_IMPL(LazyInstanceNorm3d, InstanceNorm3d)

// ---- LayerNorm / GroupNorm ----

namespace {
std::string shape_tuple(const Shape& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

LayerNorm::LayerNorm(Shape normalized_shape, double eps, bool elementwise_affine)
    : normalized_shape_(std::move(normalized_shape)), eps_(eps), affine_(elementwise_affine) {
    set_name("LayerNorm");
    if (normalized_shape_.empty()) throw ValueError("LayerNorm: normalized_shape must have at least one dimension");
    if (affine_) {
        weight = Parameter(empty(normalized_shape_));
        bias = Parameter(empty(normalized_shape_));
    }
    reset_parameters();
}

LayerNorm::LayerNorm(std::int64_t trailing_dims, double eps, bool elementwise_affine, Uninitialized)
    : normalized_shape_(static_cast<std::size_t>(trailing_dims), 0), eps_(eps), affine_(elementwise_affine) {
    if (trailing_dims < 1) throw ValueError("LazyLayerNorm: trailing_dims must be at least 1");
    if (affine_) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
}

void LayerNorm::reset_parameters() {
    if (!affine_) return;
    init::ones_(weight);
    init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
    check_input_dtype(input, weight);
    return functional::layer_norm(input, normalized_shape_, affine_ ? Tensor(weight) : Tensor(), affine_ ? Tensor(bias) : Tensor(), eps_);
}

std::string LayerNorm::extra_repr() const {
    char eps[32];
    std::snprintf(eps, sizeof eps, "%g", eps_);
    return shape_tuple(normalized_shape_) + ", eps=" + eps + ", elementwise_affine=" + (affine_ ? "True" : "False");
}

LazyLayerNorm::LazyLayerNorm(std::int64_t trailing_dims, double eps, bool elementwise_affine)
    : LayerNorm(trailing_dims, eps, elementwise_affine, Uninitialized{}), trailing_dims_(trailing_dims) {
    set_name("LazyLayerNorm");
    make_lazy("LayerNorm");
}

void LazyLayerNorm::initialize_parameters(const std::vector<Tensor>& inputs) {
    if (inputs.empty()) throw TypeError("LazyLayerNorm.initialize_parameters() missing 1 required positional argument: 'input'");
    if (!has_uninitialized_params() && !normalized_shape_.empty() && normalized_shape_[0] != 0) return;
    const Tensor& x = inputs[0];
    if (x.dim() < trailing_dims_) {
        throw ShapeError("LazyLayerNorm: cannot take the last " + std::to_string(trailing_dims_) + " dims of input " + shape_to_list(x.shape()));
    }
    normalized_shape_.assign(x.shape().end() - trailing_dims_, x.shape().end());
    NoGradGuard no_grad;
    if (affine_) {
        weight.materialize(normalized_shape_);
        bias.materialize(normalized_shape_);
    }
    reset_parameters();
}

void LazyLayerNorm::reset_parameters() {
    if (!has_uninitialized_params() && !normalized_shape_.empty() && normalized_shape_[0] != 0) LayerNorm::reset_parameters();
}

void LazyLayerNorm::lazy_load_finalize() {
    if (!weight.defined()) return;
    if (weight.dim() != trailing_dims_ || (bias.defined() && !is_lazy(bias) && bias.shape() != weight.shape())) {
        throw RuntimeError("LazyLayerNorm: the loaded weight " + shape_to_list(weight.shape()) + " and bias " +
                           (bias.defined() && !is_lazy(bias) ? shape_to_list(bias.shape()) : std::string("(none)")) +
                           " must both have the " + std::to_string(trailing_dims_) + " normalized dims");
    }
    normalized_shape_ = weight.shape();
}

GroupNorm::GroupNorm(std::int64_t num_groups, std::int64_t num_channels, double eps, bool affine)
    : num_groups_(num_groups), num_channels_(num_channels), eps_(eps), affine_(affine) {
    set_name("GroupNorm");
    if (num_groups <= 0 || num_channels % num_groups != 0) throw ValueError("num_channels must be divisible by num_groups");
    if (affine_) {
        weight = Parameter(empty({num_channels}));
        bias = Parameter(empty({num_channels}));
    }
    reset_parameters();
}

GroupNorm::GroupNorm(std::int64_t num_groups, double eps, bool affine, Uninitialized)
    : num_groups_(num_groups), num_channels_(0), eps_(eps), affine_(affine) {
    if (num_groups <= 0) throw ValueError("LazyGroupNorm: num_groups must be positive");
    if (affine_) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
}

void GroupNorm::reset_parameters() {
    if (!affine_) return;
    init::ones_(weight);
    init::zeros_(bias);
}

Tensor GroupNorm::forward(const Tensor& input) {
    check_input_dtype(input, weight);
    if (input.dim() < 2 || input.size(1) != num_channels_) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input [N, " + std::to_string(num_channels_) + ", *], got " +
                         shape_to_list(input.shape()));
    }
    return functional::group_norm(input, num_groups_, affine_ ? Tensor(weight) : Tensor(), affine_ ? Tensor(bias) : Tensor(), eps_);
}

std::string GroupNorm::extra_repr() const {
    char eps[32];
    std::snprintf(eps, sizeof eps, "%g", eps_);
    return std::to_string(num_groups_) + ", " + std::to_string(num_channels_) + ", eps=" + eps + ", affine=" + (affine_ ? "True" : "False");
}

LazyGroupNorm::LazyGroupNorm(std::int64_t num_groups, double eps, bool affine) : GroupNorm(num_groups, eps, affine, Uninitialized{}) {
    set_name("LazyGroupNorm");
    make_lazy("GroupNorm");
}

void LazyGroupNorm::initialize_parameters(const std::vector<Tensor>& inputs) {
    if (inputs.empty()) throw TypeError("LazyGroupNorm.initialize_parameters() missing 1 required positional argument: 'input'");
    if (num_channels_ != 0) return;
    if (inputs[0].dim() < 2) throw ShapeError("LazyGroupNorm: expected input [N, C, *], got " + shape_to_list(inputs[0].shape()));
    const std::int64_t c = inputs[0].size(1);
    if (c % num_groups_ != 0) throw ValueError("num_channels must be divisible by num_groups");
    num_channels_ = c;
    NoGradGuard no_grad;
    if (affine_) {
        weight.materialize({c});
        bias.materialize({c});
    }
    reset_parameters();
}

void LazyGroupNorm::reset_parameters() {
    if (!has_uninitialized_params() && num_channels_ != 0) GroupNorm::reset_parameters();
}

// ---- LocalResponseNorm ----

LocalResponseNorm::LocalResponseNorm(std::int64_t size, double alpha, double beta, double k) : size_(size), alpha_(alpha), beta_(beta), k_(k) {
    set_name("LocalResponseNorm");
    if (size <= 0) throw ValueError("LocalResponseNorm: size must be positive");
}

Tensor LocalResponseNorm::forward(const Tensor& input) {
    if (input.dim() < 3) {
        throw ShapeError("Expected 3D or higher dimensionality input (got " + std::to_string(input.dim()) + " dimensions)");
    }
    // Average of x^2 over a zero-padded window of `size` channels (PyTorch pads size/2 before and
    // (size-1)/2 after), as a sum of shifted slices.
    const Tensor sq = input * input;
    const std::int64_t c = input.size(1), before = size_ / 2, after = (size_ - 1) / 2;
    Shape block = input.shape();
    std::vector<Tensor> parts;
    if (before > 0) {
        block[1] = before;
        parts.push_back(zeros(block, input.dtype()));
    }
    parts.push_back(sq);
    if (after > 0) {
        block[1] = after;
        parts.push_back(zeros(block, input.dtype()));
    }
    const Tensor padded = cat(parts, 1);
    Tensor window = padded.narrow(1, 0, c);
    for (std::int64_t j = 1; j < size_; ++j) window = window + padded.narrow(1, j, c);
    const Tensor div = (window * (alpha_ / static_cast<double>(size_)) + k_).pow(beta_);
    return input / div;
}

std::string LocalResponseNorm::extra_repr() const {
    return std::to_string(size_) + ", alpha=" + detail::python_float(alpha_) + ", beta=" + detail::python_float(beta_) +
           ", k=" + detail::python_float(k_);
}


}  // namespace lazynn::nn
