#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/normalization.hpp>

#include <cstdio>

namespace lazynn::nn {

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

Tensor BatchNormBase::forward(const Tensor& input) {
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
    Shape dims{0};
    for (std::int64_t d = 2; d < rank; ++d) dims.push_back(d);
    Shape channel_shape(static_cast<std::size_t>(rank), 1);
    channel_shape[1] = c;

    const bool use_batch_stats = is_training() || !options_.track_running_stats_;
    Tensor normalized;
    if (use_batch_stats) {
        const std::int64_t count = input.numel() / c;
        if (is_training() && count <= 1) {
            throw ValueError("Expected more than 1 value per channel when training, got input size " + shape_to_list(input.shape()));
        }
        const Tensor mean = input.mean(dims, true);
        const Tensor var = input.var(dims, false, true);
        normalized = (input - mean) * (var + options_.eps_).rsqrt();
        if (is_training() && options_.track_running_stats_) {
            NoGradGuard no_grad;
            num_batches_tracked.add_(1.0);
            const double m = options_.momentum_ ? *options_.momentum_ : 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
            const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
            running_mean.mul_(1.0 - m).add_(mean.detach().reshape({c}), m);
            running_var.mul_(1.0 - m).add_(var.detach().reshape({c}), m * unbias);
        }
    } else {
        normalized = (input - running_mean.reshape(channel_shape)) * (running_var.reshape(channel_shape) + options_.eps_).rsqrt();
    }
    if (options_.affine_) normalized = normalized * weight.reshape(channel_shape) + bias.reshape(channel_shape);
    return normalized;
}

std::string BatchNormBase::extra_repr() const {
    char buffer[160];
    if (options_.momentum_) {
        std::snprintf(buffer, sizeof buffer, "%lld, eps=%g, momentum=%g, affine=%s, track_running_stats=%s",
                      static_cast<long long>(options_.num_features_), options_.eps_, *options_.momentum_, options_.affine_ ? "True" : "False",
                      options_.track_running_stats_ ? "True" : "False");
    } else {
        std::snprintf(buffer, sizeof buffer, "%lld, eps=%g, momentum=None, affine=%s, track_running_stats=%s",
                      static_cast<long long>(options_.num_features_), options_.eps_, options_.affine_ ? "True" : "False",
                      options_.track_running_stats_ ? "True" : "False");
    }
    return buffer;
}

namespace {

template <class Lazy>
void lazy_bn_initialize(Lazy& bn, BatchNormOptions& o, const std::vector<Tensor>& inputs) {
    if (inputs.empty()) throw TypeError(bn.name() + ".initialize_parameters() missing 1 required positional argument: 'input'");
    if (!bn.has_uninitialized_params()) return;
    if (inputs[0].dim() < 2) throw ShapeError(bn.name() + ": cannot infer num_features from input of shape " + shape_to_list(inputs[0].shape()));
    o.num_features_ = inputs[0].size(1);
    NoGradGuard no_grad;
    const Shape shape{o.num_features_};
    if (o.affine_) {
        bn.weight.materialize(shape);
        bn.bias.materialize(shape);
    }
    if (o.track_running_stats_) {
        bn.running_mean.materialize(shape);
        bn.running_var.materialize(shape);
    }
    bn.reset_parameters();
}

}  // namespace

#define LAZYNN_LAZY_BATCHNORM_IMPL(Class, Concrete)                                                                   \
    Class::Class(BatchNormOptions options) : Concrete((options.num_features_ = 0, options), Uninitialized{}) {        \
        set_name(#Class);                                                                                             \
        make_lazy(#Concrete);                                                                                         \
    }                                                                                                                 \
    void Class::initialize_parameters(const std::vector<Tensor>& inputs) { lazy_bn_initialize(*this, options_, inputs); } \
    void Class::reset_parameters() {                                                                                  \
        if (!has_uninitialized_params() && options_.num_features_ != 0) Concrete::reset_parameters();                \
    }                                                                                                                 \
    void Class::lazy_load_finalize() {                                                                                \
        if (weight.defined()) options_.num_features_ = weight.size(0);                                               \
        else if (running_mean.defined()) options_.num_features_ = running_mean.size(0);                              \
    }

LAZYNN_LAZY_BATCHNORM_IMPL(LazyBatchNorm1d, BatchNorm1d)
LAZYNN_LAZY_BATCHNORM_IMPL(LazyBatchNorm2d, BatchNorm2d)
LAZYNN_LAZY_BATCHNORM_IMPL(LazyBatchNorm3d, BatchNorm3d)

}  // namespace lazynn::nn
