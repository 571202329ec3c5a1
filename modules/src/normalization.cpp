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
std::string norm_extra_repr(std::int64_t num_features, double eps, std::optional<double> momentum, bool affine,
                            bool track) {
    char momentum_text[32] = "None";
    if (momentum) std::snprintf(momentum_text, sizeof momentum_text, "%g", *momentum);
    char buffer[160];
    std::snprintf(buffer, sizeof buffer, "%lld, eps=%g, momentum=%s, affine=%s, track_running_stats=%s",
                  static_cast<long long>(num_features), eps, momentum_text, affine ? "True" : "False",
                  track ? "True" : "False");
    return buffer;
}

}  // namespace

BatchNormBase::BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name)
    : options_(std::move(options)), ranks_(std::move(ranks)) {
    set_name(name);
    const std::int64_t c = options_.num_features();
    if (options_.affine()) {
        weight = Parameter(empty({c}));
        bias = Parameter(empty({c}));
    }
    if (options_.track_running_stats()) {
        running_mean = Buffer(zeros({c}));
        running_var = Buffer(ones({c}));
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
    reset_parameters();
}

BatchNormBase::BatchNormBase(BatchNormOptions options, std::vector<std::int64_t> ranks, const char* name, Uninitialized)
    : options_(std::move(options)), ranks_(std::move(ranks)) {
    set_name(name);
    if (options_.affine()) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
    if (options_.track_running_stats()) {
        running_mean = UninitializedBuffer();
        running_var = UninitializedBuffer();
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
}

std::optional<ChannelNormalization> BatchNormBase::channel_normalization(std::int64_t input_dim) const {
    if (is_training() || !running_mean.defined() || std::find(ranks_.begin(), ranks_.end(), input_dim) == ranks_.end())
        return std::nullopt;
    return ChannelNormalization{running_mean, running_var, weight, bias, options_.eps()};
}

void BatchNormBase::reset_running_stats() {
    if (!options_.track_running_stats()) return;
    NoGradGuard no_grad;
    running_mean.zero_();
    running_var.fill_(1.0);
    num_batches_tracked.zero_();
}

void BatchNormBase::reset_parameters() {
    reset_running_stats();
    if (options_.affine()) {
        init::ones_(weight);
        init::zeros_(bias);
    }
}

std::optional<Tensor> BatchNormBase::forward_relu_max_pool2x2(const Tensor& input) {
    check_input(input);  // forward()'s errors, from the one place that raises them
    // The fused op takes floating-point maps of at least one 2x2 window; the rest (empty batches,
    // maps too small to pool) runs as the three layers.
    const bool fusible =
        input.dim() == 4 && is_floating(input.dtype()) && input.numel() > 0 && input.size(2) >= 2 && input.size(3) >= 2;
    if (!fusible) return std::nullopt;
    return normalize(input, Epilogue::relu_max_pool2x2);
}

void BatchNormBase::check_input(const Tensor& input) const {
    // A 16-bit input with float32 parameters and statistics is PyTorch's mixed batch norm.
    const Tensor& stats = weight.defined() ? Tensor(weight) : Tensor(running_mean);
    if (!(is_float16(input.dtype()) && stats.defined() && stats.dtype() == kFloat32)) check_input_dtype(input, stats);
    const auto rank = input.dim();
    if (std::find(ranks_.begin(), ranks_.end(), rank) == ranks_.end()) {
        std::string expected;
        for (std::size_t i = 0; i < ranks_.size(); ++i) expected += (i ? "D or " : "") + std::to_string(ranks_[i]);
        throw ShapeError(name() + ": expected " + expected + "D input (got " + std::to_string(rank) +
                         "D input of shape " + shape_to_list(input.shape()) + ")");
    }
    const std::int64_t c = input.size(1);
    if (c != options_.num_features() && (options_.affine() || options_.track_running_stats())) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input with " +
                         std::to_string(options_.num_features()) + " channels (dim 1), got input of shape " +
                         shape_to_list(input.shape()));
    }
    if (is_training() && input.numel() / std::max<std::int64_t>(c, 1) == 1) {
        throw ValueError("Expected more than 1 value per channel when training, got input size " +
                         shape_to_list(input.shape()));
    }
}

Tensor BatchNormBase::normalize(const Tensor& input, Epilogue epilogue) {
    const std::int64_t c = input.size(1);
    const bool use_batch_stats = is_training() || !options_.track_running_stats();
    const std::int64_t count = input.numel() / std::max<std::int64_t>(c, 1);
    if (count == 0) {
        // An empty batch: an empty output still connected to the affine parameters, the running
        // statistics untouched but the batch counted (PyTorch's batch_norm on zero elements).
        if (is_training() && options_.track_running_stats()) {
            NoGradGuard no_grad;
            num_batches_tracked.add_(1.0);
        }
        Tensor out = input * 1.0;
        if (weight.defined() && weight.numel() > 0) out = out * weight.select(0, 0);
        if (bias.defined() && bias.numel() > 0) out = out + bias.select(0, 0);
        return out;
    }
    std::vector<double> batch_mean, batch_var;
    Tensor out = epilogue == Epilogue::relu_max_pool2x2
                     ? ops::batch_norm_relu_max_pool2x2(input, weight, bias, running_mean, running_var, use_batch_stats,
                                                        options_.eps(), batch_mean, batch_var)
                     : ops::batch_norm(input, weight, bias, running_mean, running_var, use_batch_stats, options_.eps(),
                                       epilogue == Epilogue::relu, batch_mean, batch_var);
    if (is_training() && options_.track_running_stats()) {
        NoGradGuard no_grad;
        num_batches_tracked.add_(1.0);
        const double m = options_.momentum() ? *options_.momentum()
                                             : 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
        const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
        for (double& v : batch_var) v *= unbias;
        running_mean.mul_(1.0 - m).add_(tensor(batch_mean, {c}, kFloat64).to(running_mean.dtype()), m);
        running_var.mul_(1.0 - m).add_(tensor(batch_var, {c}, kFloat64).to(running_var.dtype()), m);
    }
    return out;
}

std::string BatchNormBase::extra_repr() const {
    return norm_extra_repr(options_.num_features(), options_.eps(), options_.momentum(), options_.affine(),
                           options_.track_running_stats());
}

void BatchNormBase::materialize_from_options() {
    const Shape shape{options_.num_features()};
    for (Parameter* p : {&weight, &bias}) {
        if (is_lazy(*p)) p->materialize(shape);
    }
    for (Buffer* b : {&running_mean, &running_var}) {
        if (is_lazy(*b)) b->materialize(shape);
    }
}

// ---- InstanceNorm ----

InstanceNormBase::InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name)
    : options_(std::move(options)), spatial_dims_(spatial_dims) {
    set_name(name);
    const std::int64_t c = options_.num_features();
    if (options_.affine()) {
        weight = Parameter(empty({c}));
        bias = Parameter(empty({c}));
    }
    if (options_.track_running_stats()) {
        running_mean = Buffer(zeros({c}));
        running_var = Buffer(ones({c}));
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
    reset_parameters();
}

InstanceNormBase::InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name,
                                   Uninitialized)
    : options_(std::move(options)), spatial_dims_(spatial_dims) {
    set_name(name);
    if (options_.affine()) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
    if (options_.track_running_stats()) {
        running_mean = UninitializedBuffer();
        running_var = UninitializedBuffer();
        num_batches_tracked = Buffer(zeros({}, kInt64));
    }
}

void InstanceNormBase::reset_parameters() {
    NoGradGuard no_grad;
    if (options_.track_running_stats()) {
        running_mean.zero_();
        running_var.fill_(1.0);
        num_batches_tracked.zero_();
    }
    if (options_.affine()) {
        init::ones_(weight);
        init::zeros_(bias);
    }
}

Tensor InstanceNormBase::forward(const Tensor& input_given) {
    check_input_dtype(input_given, weight.defined() ? Tensor(weight) : Tensor(running_mean));
    const std::int64_t batched = spatial_dims_ + 2;
    if (input_given.dim() != batched && input_given.dim() != batched - 1) {
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D (unbatched) or " +
                         std::to_string(batched) + "D (batched) input, got " + shape_to_list(input_given.shape()));
    }
    const bool unbatched = input_given.dim() == batched - 1;
    const Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    const std::int64_t n = input.size(0), c = input.size(1);
    if (c != options_.num_features() && (options_.affine() || options_.track_running_stats())) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input with " +
                         std::to_string(options_.num_features()) + " channels, got input of shape " +
                         shape_to_list(input_given.shape()));
    }
    const std::int64_t spatial = input.numel() / std::max<std::int64_t>(n * c, 1);
    const bool use_instance_stats = is_training() || !options_.track_running_stats();
    if (use_instance_stats && spatial == 1) {
        throw ValueError("Expected more than 1 spatial element when training, got input size " +
                         shape_to_list(input_given.shape()));
    }
    if (input.numel() == 0) {  // no instances or no positions: an empty result, as PyTorch's
        Tensor out = input_given * 1.0;
        if (weight.defined() && weight.numel() > 0) out = out * weight.select(0, 0);
        if (bias.defined() && bias.numel() > 0) out = out + bias.select(0, 0);
        return out;
    }
    auto repeat = [n, c](const Tensor& t) {
        return t.defined() ? t.unsqueeze(0).expand({n, c}).reshape({n * c}) : Tensor();
    };
    std::vector<double> instance_mean, instance_var;
    Tensor out = ops::batch_norm(input.reshape({1, n * c, spatial}), repeat(weight), repeat(bias),
                                 use_instance_stats ? Tensor() : repeat(running_mean),
                                 use_instance_stats ? Tensor() : repeat(running_var), use_instance_stats,
                                 options_.eps(), /*relu=*/false, instance_mean, instance_var)
                     .reshape(input.shape());
    if (is_training() && options_.track_running_stats()) {
        // Like PyTorch's F.instance_norm: num_batches_tracked is not advanced; momentum=None
        // (a cumulative average) is not supported by instance norm there either, so 0.1 stands in.
        NoGradGuard no_grad;
        const double m = options_.momentum().value_or(0.1);
        const double unbias = static_cast<double>(spatial) / static_cast<double>(spatial - 1);
        std::vector<double> mean_c(static_cast<std::size_t>(c), 0.0), var_c(static_cast<std::size_t>(c), 0.0);
        for (std::int64_t i = 0; i < n; ++i) {
            for (std::int64_t ch = 0; ch < c; ++ch) {
                mean_c[static_cast<std::size_t>(ch)] +=
                    instance_mean[static_cast<std::size_t>(i * c + ch)] / static_cast<double>(n);
                var_c[static_cast<std::size_t>(ch)] +=
                    instance_var[static_cast<std::size_t>(i * c + ch)] * unbias / static_cast<double>(n);
            }
        }
        running_mean.mul_(1.0 - m).add_(tensor(mean_c, {c}, kFloat64).to(running_mean.dtype()), m);
        running_var.mul_(1.0 - m).add_(tensor(var_c, {c}, kFloat64).to(running_var.dtype()), m);
    }
    return unbatched ? out.squeeze(0) : out;
}

std::string InstanceNormBase::extra_repr() const {
    return norm_extra_repr(options_.num_features(), options_.eps(), options_.momentum(), options_.affine(),
                           options_.track_running_stats());
}

void InstanceNormBase::materialize_from_options() {
    const Shape shape{options_.num_features()};
    for (Parameter* p : {&weight, &bias}) {
        if (is_lazy(*p)) p->materialize(shape);
    }
    for (Buffer* b : {&running_mean, &running_var}) {
        if (is_lazy(*b)) b->materialize(shape);
    }
}

// ---- the norms' lazy twin ----

template <class Norm>
void LazyNorm<Norm>::infer_options(const std::vector<Tensor>& inputs) {
    if (inputs[0].dim() < 2)
        throw ShapeError(this->name() + ": cannot infer num_features from input of shape " +
                         shape_to_list(inputs[0].shape()));
    this->options_.num_features(inputs[0].size(1));
}

template <class Norm>
void LazyNorm<Norm>::lazy_load_finalize() {
    // Each was materialised from its own stored shape: all must be [C] for one C before C is taken from them.
    std::int64_t channels = -1;
    const char* first = nullptr;
    const std::pair<const char*, const Tensor*> stored[] = {{"weight", &this->weight},
                                                            {"bias", &this->bias},
                                                            {"running_mean", &this->running_mean},
                                                            {"running_var", &this->running_var}};
    for (const auto& [what, t] : stored) {
        if (!t->defined() || Module::is_lazy(*t)) continue;
        if (t->dim() != 1 || t->size(0) == 0) {
            throw RuntimeError(this->name() + ": the loaded " + what + " has shape " + shape_to_list(t->shape()) +
                               ", expected [num_features]");
        }
        if (channels >= 0 && t->size(0) != channels) {
            throw RuntimeError(this->name() + ": the loaded " + what + " has " + std::to_string(t->size(0)) +
                               " elements but the loaded " + first + " has " + std::to_string(channels));
        }
        if (channels < 0) {
            channels = t->size(0);
            first = what;
        }
    }
    if (channels >= 0) this->options_.num_features(channels);
}

template class LazyNorm<BatchNorm1d>;
template class LazyNorm<BatchNorm2d>;
template class LazyNorm<BatchNorm3d>;
template class LazyNorm<InstanceNorm1d>;
template class LazyNorm<InstanceNorm2d>;
template class LazyNorm<InstanceNorm3d>;

// ---- LayerNorm / GroupNorm ----

namespace {
std::string shape_tuple(const Shape& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

LayerNorm::LayerNorm(LayerNormOptions options) : options_(std::move(options)) {
    set_name("LayerNorm");
    if (options_.normalized_shape().empty())
        throw ValueError("LayerNorm: normalized_shape must have at least one dimension");
    if (options_.elementwise_affine()) {
        weight = Parameter(empty(options_.normalized_shape()));
        bias = Parameter(empty(options_.normalized_shape()));
    }
    reset_parameters();
}

LayerNorm::LayerNorm(LayerNormOptions options, Uninitialized) : options_(std::move(options)) {
    set_name("LayerNorm");
    if (options_.normalized_shape().empty()) throw ValueError("LazyLayerNorm: trailing_dims must be at least 1");
    if (options_.elementwise_affine()) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
}

void LayerNorm::materialize_from_options() {
    if (is_lazy(weight)) weight.materialize(options_.normalized_shape());
    if (is_lazy(bias)) bias.materialize(options_.normalized_shape());
}

void LayerNorm::reset_parameters() {
    if (!options_.elementwise_affine()) return;
    init::ones_(weight);
    init::zeros_(bias);
}

Tensor LayerNorm::forward(const Tensor& input) {
    check_input_dtype(input, weight);
    const bool affine = options_.elementwise_affine();
    return functional::layer_norm(input, options_.normalized_shape(), affine ? Tensor(weight) : Tensor(),
                                  affine ? Tensor(bias) : Tensor(), options_.eps());
}

std::string LayerNorm::extra_repr() const {
    char eps[32];
    std::snprintf(eps, sizeof eps, "%g", options_.eps());
    return shape_tuple(options_.normalized_shape()) + ", eps=" + eps +
           ", elementwise_affine=" + (options_.elementwise_affine() ? "True" : "False");
}

LazyLayerNorm::LazyLayerNorm(std::int64_t trailing_dims, double eps, bool elementwise_affine)
    : Lazy<LayerNorm>(LayerNormOptions(Shape(static_cast<std::size_t>(std::max<std::int64_t>(trailing_dims, 0)), 0))
                          .eps(eps)
                          .elementwise_affine(elementwise_affine)) {}

void LazyLayerNorm::infer_options(const std::vector<Tensor>& inputs) {
    const Tensor& x = inputs[0];
    const auto trailing_dims = static_cast<std::int64_t>(normalized_shape().size());
    if (x.dim() < trailing_dims) {
        throw ShapeError("LazyLayerNorm: cannot take the last " + std::to_string(trailing_dims) + " dims of input " +
                         shape_to_list(x.shape()));
    }
    options_.normalized_shape(Shape(x.shape().end() - trailing_dims, x.shape().end()));
}

void LazyLayerNorm::lazy_load_finalize() {
    if (!weight.defined()) return;
    const auto trailing_dims = static_cast<std::int64_t>(normalized_shape().size());
    if (weight.dim() != trailing_dims || (bias.defined() && !is_lazy(bias) && bias.shape() != weight.shape())) {
        throw RuntimeError("LazyLayerNorm: the loaded weight " + shape_to_list(weight.shape()) + " and bias " +
                           (bias.defined() && !is_lazy(bias) ? shape_to_list(bias.shape()) : std::string("(none)")) +
                           " must both have the " + std::to_string(trailing_dims) + " normalized dims");
    }
    options_.normalized_shape(weight.shape());
}

GroupNorm::GroupNorm(GroupNormOptions options) : options_(options) {
    set_name("GroupNorm");
    const std::int64_t groups = options_.num_groups(), channels = options_.num_channels();
    if (groups <= 0 || channels % groups != 0) throw ValueError("num_channels must be divisible by num_groups");
    if (options_.affine()) {
        weight = Parameter(empty({channels}));
        bias = Parameter(empty({channels}));
    }
    reset_parameters();
}

GroupNorm::GroupNorm(GroupNormOptions options, Uninitialized) : options_(options) {
    set_name("GroupNorm");
    if (options_.num_groups() <= 0) throw ValueError("LazyGroupNorm: num_groups must be positive");
    if (options_.affine()) {
        weight = UninitializedParameter();
        bias = UninitializedParameter();
    }
}

void GroupNorm::materialize_from_options() {
    if (is_lazy(weight)) weight.materialize({options_.num_channels()});
    if (is_lazy(bias)) bias.materialize({options_.num_channels()});
}

void GroupNorm::reset_parameters() {
    if (!options_.affine()) return;
    init::ones_(weight);
    init::zeros_(bias);
}

Tensor GroupNorm::forward(const Tensor& input) {
    check_input_dtype(input, weight);
    if (input.dim() < 2 || input.size(1) != options_.num_channels()) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input [N, " +
                         std::to_string(options_.num_channels()) + ", *], got " + shape_to_list(input.shape()));
    }
    const bool affine = options_.affine();
    return functional::group_norm(input, options_.num_groups(), affine ? Tensor(weight) : Tensor(),
                                  affine ? Tensor(bias) : Tensor(), options_.eps());
}

std::string GroupNorm::extra_repr() const {
    char eps[32];
    std::snprintf(eps, sizeof eps, "%g", options_.eps());
    return std::to_string(options_.num_groups()) + ", " + std::to_string(options_.num_channels()) + ", eps=" + eps +
           ", affine=" + (options_.affine() ? "True" : "False");
}

LazyGroupNorm::LazyGroupNorm(std::int64_t num_groups, double eps, bool affine)
    : Lazy<GroupNorm>(GroupNormOptions(num_groups, 0).eps(eps).affine(affine)) {}

void LazyGroupNorm::infer_options(const std::vector<Tensor>& inputs) {
    if (inputs[0].dim() < 2)
        throw ShapeError("LazyGroupNorm: expected input [N, C, *], got " + shape_to_list(inputs[0].shape()));
    const std::int64_t c = inputs[0].size(1);
    if (c % options_.num_groups() != 0) throw ValueError("num_channels must be divisible by num_groups");
    options_.num_channels(c);
}

void LazyGroupNorm::lazy_load_finalize() {
    if (weight.defined()) options_.num_channels(weight.size(0));
}

// ---- LocalResponseNorm ----

LocalResponseNorm::LocalResponseNorm(std::int64_t size, double alpha, double beta, double k)
    : size_(size), alpha_(alpha), beta_(beta), k_(k) {
    set_name("LocalResponseNorm");
    if (size <= 0) throw ValueError("LocalResponseNorm: size must be positive");
}

Tensor LocalResponseNorm::forward(const Tensor& input) {
    if (input.dim() < 3) {
        throw ShapeError("Expected 3D or higher dimensionality input (got " + std::to_string(input.dim()) +
                         " dimensions)");
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
