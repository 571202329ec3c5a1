#include "autograd/function_node.hpp"
#include "fused_relu.hpp"
#include "norm_kernels.hpp"
#include "parallel.hpp"
#include "python_repr.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/init.hpp>
#include <lazynn/nn/normalization.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <mutex>

namespace lazynn::nn {
namespace {

using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

/// Channels per thread chunk: enough elements that splitting pays.
std::int64_t channel_grain(std::int64_t per_channel) { return std::max<std::int64_t>(1, 32768 / std::max<std::int64_t>(per_channel, 1)); }

/// relu(y) in place over channels [first, end) of y [n, c, s] (PyTorch's ReLU: NaN and -0.0 pass).
template <class T>
void relu_channels(T* y, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first, std::int64_t end) {
    for (std::int64_t i = 0; i < n; ++i) functional::detail::relu_span(y + (i * c + first) * s, (end - first) * s);
}

/// g masked by the ReLU's output over channels [first, end), as ReLU's backward computes it.
template <class T>
void relu_mask_channels(const T* g, const T* out, T* masked, std::int64_t n, std::int64_t c, std::int64_t s, std::int64_t first,
                        std::int64_t end) {
    for (std::int64_t i = 0; i < n; ++i) {
        const std::int64_t offset = (i * c + first) * s;
        functional::detail::relu_backward_span(g + offset, out + offset, masked + offset, (end - first) * s);
    }
}

/// Batch normalisation over [N, C, S] in one fused kernel, split over channels, followed by a
/// ReLU when `relu` (in the same pass over each channel chunk, and masked in the same backward:
/// training a conv-BN-ReLU stack then costs no separate ReLU passes). With batch statistics
/// (use_batch) it returns the per-channel mean and biased variance through `batch_mean` /
/// `batch_var`.
Tensor fused_batch_norm(const Tensor& input, const Tensor& weight, const Tensor& bias, const Tensor& mean_in, const Tensor& var_in,
                        bool use_batch, double eps, bool relu, std::vector<double>& batch_mean, std::vector<double>& batch_var) {
    namespace kernels = functional::detail;
    // The kernels read one value per channel from each of these: a wrong length would read past
    // the end or silently drop channels (PyTorch's messages).
    const std::pair<const char*, const Tensor*> per_channel[] = {{"weight", &weight}, {"bias", &bias}, {"running_mean", &mean_in}, {"running_var", &var_in}};
    for (const auto& [what, t] : per_channel) {
        if (t->defined() && t->numel() != input.size(1)) {
            throw RuntimeError(std::string(what) + " should contain " + std::to_string(input.size(1)) + " elements not " + std::to_string(t->numel()));
        }
    }
    const Tensor x = lazynn::detail::contiguous_data(input);
    const std::int64_t n = input.size(0), c = input.size(1), s = input.numel() / std::max<std::int64_t>(n * c, 1);
    const auto channels = static_cast<std::size_t>(c);
    std::vector<double> mean(channels), invstd(channels), scale(channels), shift(channels);
    const std::vector<double> w = weight.defined() ? weight.to_vector<double>() : std::vector<double>(channels, 1.0);
    const std::vector<double> b = bias.defined() ? bias.to_vector<double>() : std::vector<double>(channels, 0.0);
    const std::int64_t grain = channel_grain(n * s);
    Tensor out = lazynn::detail::empty_tensor(input.shape(), input.dtype());
    visit_floating(input.dtype(), "batch_norm", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xv = x.impl().data<T>();
        T* o = out.impl().data<T>();
        std::vector<double> var;
        if (use_batch) {
            batch_mean.assign(channels, 0.0);
            batch_var.assign(channels, 0.0);
            lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                kernels::batch_norm_statistics(xv, n, c, s, first, end, batch_mean.data(), batch_var.data());
            });
            mean = batch_mean;
            var = batch_var;
        } else {
            mean = mean_in.to_vector<double>();
            var = var_in.to_vector<double>();
        }
        for (std::size_t ch = 0; ch < channels; ++ch) {
            invstd[ch] = 1.0 / std::sqrt(var[ch] + eps);
            scale[ch] = w[ch] * invstd[ch];
            shift[ch] = b[ch] - mean[ch] * scale[ch];
        }
        lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
            kernels::batch_norm_transform(xv, o, n, c, s, first, end, scale.data(), shift.data());
            if (relu) relu_channels(o, n, c, s, first, end);
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
        // With the ReLU fused, the output is saved for its mask (as ReLU's own backward saves it),
        // and the node carries the name PyTorch shows for the output's grad_fn.
        record(out, relu ? "ReluBackward0" : "NativeBatchNormBackward0", {input, weight, bias},
               [sx = SavedTensor(x), sy = SavedTensor(relu ? out : Tensor()), relu, mean, invstd, w, use_batch, n, c, s, grain, gx, gw,
                gb](const Tensor& g_in) {
                   const Tensor g_given = lazynn::detail::contiguous_data(g_in);
                   const Tensor xv_t = sx.unpack();
                   const Tensor y = relu ? sy.unpack() : Tensor();
                   Tensor g = relu ? lazynn::detail::empty_tensor(g_given.shape(), g_given.dtype()) : g_given;
                   Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                   std::vector<double> sum_dy(static_cast<std::size_t>(c), 0.0), sum_dy_xhat(static_cast<std::size_t>(c), 0.0);
                   visit_floating(xv_t.dtype(), "batch_norm_backward", [&](auto tag) {
                       using T = typename decltype(tag)::type;
                       lazynn::detail::parallel_for(c, grain, [&](std::int64_t first, std::int64_t end) {
                           if (relu) relu_mask_channels(g_given.impl().data<T>(), y.impl().data<T>(), g.impl().data<T>(), n, c, s, first, end);
                           functional::detail::batch_norm_backward(xv_t.impl().data<T>(), g.impl().data<T>(),
                                                                   gx ? grad_x.impl().data<T>() : nullptr, n, c, s, first, end, mean.data(),
                                                                   invstd.data(), w.data(), use_batch, sum_dy.data(), sum_dy_xhat.data());
                       });
                   });
                   const Dtype dtype = xv_t.dtype();
                   Tensor grad_w = gw ? tensor(sum_dy_xhat, {c}, kFloat64).to(dtype) : Tensor();
                   Tensor grad_b = gb ? tensor(sum_dy, {c}, kFloat64).to(dtype) : Tensor();
                   return std::vector<Tensor>{grad_x, grad_w, grad_b};
               },
               true);
    }
    return out;
}

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
    if (c != options_.num_features() && (options_.affine() || options_.track_running_stats())) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input with " + std::to_string(options_.num_features()) +
                         " channels (dim 1), got input of shape " + shape_to_list(input.shape()));
    }
    const bool use_batch_stats = is_training() || !options_.track_running_stats();
    const std::int64_t count = input.numel() / std::max<std::int64_t>(c, 1);
    if (is_training() && count <= 1) {
        throw ValueError("Expected more than 1 value per channel when training, got input size " + shape_to_list(input.shape()));
    }
    std::vector<double> batch_mean, batch_var;
    Tensor out = fused_batch_norm(input, weight, bias, running_mean, running_var, use_batch_stats, options_.eps(), relu, batch_mean, batch_var);
    if (is_training() && options_.track_running_stats()) {
        NoGradGuard no_grad;
        num_batches_tracked.add_(1.0);
        const double m = options_.momentum() ? *options_.momentum() : 1.0 / static_cast<double>(num_batches_tracked.item<std::int64_t>());
        const double unbias = static_cast<double>(count) / static_cast<double>(count - 1);
        for (double& v : batch_var) v *= unbias;
        running_mean.mul_(1.0 - m).add_(tensor(batch_mean, {c}, kFloat64).to(running_mean.dtype()), m);
        running_var.mul_(1.0 - m).add_(tensor(batch_var, {c}, kFloat64).to(running_var.dtype()), m);
    }
    return out;
}

std::string BatchNormBase::extra_repr() const {
    return norm_extra_repr(options_.num_features(), options_.eps(), options_.momentum(), options_.affine(), options_.track_running_stats());
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

InstanceNormBase::InstanceNormBase(InstanceNormOptions options, std::int64_t spatial_dims, const char* name, Uninitialized)
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
        throw ShapeError(name() + ": expected " + std::to_string(batched - 1) + "D (unbatched) or " + std::to_string(batched) +
                         "D (batched) input, got " + shape_to_list(input_given.shape()));
    }
    const bool unbatched = input_given.dim() == batched - 1;
    const Tensor input = unbatched ? input_given.unsqueeze(0) : input_given;
    const std::int64_t n = input.size(0), c = input.size(1);
    if (c != options_.num_features() && (options_.affine() || options_.track_running_stats())) {
        throw ShapeError(name() + "(" + extra_repr() + "): expected input with " + std::to_string(options_.num_features()) +
                         " channels, got input of shape " + shape_to_list(input_given.shape()));
    }
    const std::int64_t spatial = input.numel() / std::max<std::int64_t>(n * c, 1);
    const bool use_instance_stats = is_training() || !options_.track_running_stats();
    if (use_instance_stats && spatial <= 1) {
        throw ValueError("Expected more than 1 spatial element when training, got input size " + shape_to_list(input_given.shape()));
    }
    auto repeat = [n, c](const Tensor& t) { return t.defined() ? t.unsqueeze(0).expand({n, c}).reshape({n * c}) : Tensor(); };
    std::vector<double> instance_mean, instance_var;
    Tensor out = fused_batch_norm(input.reshape({1, n * c, spatial}), repeat(weight), repeat(bias),
                                  use_instance_stats ? Tensor() : repeat(running_mean), use_instance_stats ? Tensor() : repeat(running_var),
                                  use_instance_stats, options_.eps(), /*relu=*/false, instance_mean, instance_var)
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
    return norm_extra_repr(options_.num_features(), options_.eps(), options_.momentum(), options_.affine(), options_.track_running_stats());
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
    if (inputs[0].dim() < 2) throw ShapeError(this->name() + ": cannot infer num_features from input of shape " + shape_to_list(inputs[0].shape()));
    this->options_.num_features(inputs[0].size(1));
}

template <class Norm>
void LazyNorm<Norm>::lazy_load_finalize() {
    // Each was materialised from its own stored shape: all must be [C] for one C before C is taken from them.
    std::int64_t channels = -1;
    const char* first = nullptr;
    const std::pair<const char*, const Tensor*> stored[] = {{"weight", &this->weight}, {"bias", &this->bias},
                                                            {"running_mean", &this->running_mean}, {"running_var", &this->running_var}};
    for (const auto& [what, t] : stored) {
        if (!t->defined() || Module::is_lazy(*t)) continue;
        if (t->dim() != 1 || t->size(0) == 0) {
            throw RuntimeError(this->name() + ": the loaded " + what + " has shape " + shape_to_list(t->shape()) + ", expected [num_features]");
        }
        if (channels >= 0 && t->size(0) != channels) {
            throw RuntimeError(this->name() + ": the loaded " + what + " has " + std::to_string(t->size(0)) + " elements but the loaded " +
                               first + " has " + std::to_string(channels));
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
/// Standardises each row of `input` viewed as [rows, len] and applies the optional per-column
/// weight and bias (of len elements), as one autograd node (PyTorch's native_layer_norm).
Tensor normalize_rows(const Tensor& input, const Tensor& weight, const Tensor& bias, std::int64_t len, double eps, const char* op) {
    for (const Tensor* t : {&weight, &bias}) {
        if (t->defined() && t->dtype() != input.dtype()) {
            throw DtypeError(std::string(op) + ": expected weight and bias of the input's dtype " + dtype_name(input.dtype()) + ", got " +
                             dtype_name(t->dtype()));
        }
    }
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor w = weight.defined() ? lazynn::detail::contiguous_data(weight) : Tensor();
    const Tensor b = bias.defined() ? lazynn::detail::contiguous_data(bias) : Tensor();
    const std::int64_t rows = len == 0 ? 0 : input.numel() / len;
    const std::int64_t grain = std::max<std::int64_t>(1, 16384 / std::max<std::int64_t>(len, 1));   // rows per thread
    auto stats = std::make_shared<std::vector<double>>(static_cast<std::size_t>(2 * rows));          // means, then invstds
    Tensor out = lazynn::detail::empty_tensor(input.shape(), input.dtype());
    visit_floating(input.dtype(), op, [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* xv = x.impl().data<T>();
        const T* wv = w.defined() ? w.impl().data<T>() : nullptr;
        const T* bv = b.defined() ? b.impl().data<T>() : nullptr;
        T* o = out.impl().data<T>();
        double* mean = stats->data();
        double* invstd = mean + rows;
        lazynn::detail::parallel_for(rows, grain, [&](std::int64_t first, std::int64_t end) {
            functional::detail::normalize_rows_forward(xv + first * len, wv, bv, o + first * len, mean + first, invstd + first, end - first, len,
                                                       eps);
        });
    });
    if (needs_grad({&input, &weight, &bias})) {
        const bool gx = input.requires_grad(), gw = weight.defined() && weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
        record(out, "NativeLayerNormBackward0", {input, weight, bias},
               [sx = SavedTensor(x), sw = SavedTensor(w), stats, rows, len, grain, gx, gw, gb, param_shape = weight.defined() ? weight.shape() : Shape{}](const Tensor& g_in) {
                   const Tensor g = lazynn::detail::contiguous_data(g_in);
                   const Tensor xv_t = sx.unpack(), wv_t = sw.unpack();
                   Tensor grad_x = gx ? lazynn::detail::empty_tensor(xv_t.shape(), xv_t.dtype()) : Tensor();
                   // Chunks sum their weight/bias gradients privately; the partial sums are added in row
                   // order so a run is reproducible whichever thread finishes first.
                   std::mutex merge;
                   std::vector<std::pair<std::int64_t, std::vector<double>>> partials;
                   visit_floating(xv_t.dtype(), "layer_norm_backward", [&](auto tag) {
                       using T = typename decltype(tag)::type;
                       const T* wv = wv_t.defined() ? wv_t.impl().data<T>() : nullptr;
                       const double* mean = stats->data();
                       lazynn::detail::parallel_for(rows, grain, [&](std::int64_t first, std::int64_t end) {
                           std::vector<double> sums(static_cast<std::size_t>((gw || gb) ? 2 * len : 0), 0.0);
                           functional::detail::normalize_rows_backward(xv_t.impl().data<T>() + first * len, g.impl().data<T>() + first * len, wv,
                                                                       mean + first, mean + rows + first,
                                                                       gx ? grad_x.impl().data<T>() + first * len : nullptr,
                                                                       gw ? sums.data() : nullptr, gb ? sums.data() + len : nullptr, end - first, len);
                           if (!gw && !gb) return;
                           std::lock_guard lock(merge);
                           partials.emplace_back(first, std::move(sums));
                       });
                   });
                   std::sort(partials.begin(), partials.end(), [](const auto& l, const auto& r) { return l.first < r.first; });
                   std::vector<double> total(static_cast<std::size_t>(2 * len), 0.0);
                   for (const auto& part : partials) {
                       for (std::size_t i = 0; i < total.size(); ++i) total[i] += part.second[i];
                   }
                   const Dtype dtype = xv_t.dtype();
                   const auto half = static_cast<std::ptrdiff_t>(len);
                   Tensor grad_w = gw ? tensor(std::vector<double>(total.begin(), total.begin() + half), param_shape, kFloat64).to(dtype) : Tensor();
                   Tensor grad_b = gb ? tensor(std::vector<double>(total.begin() + half, total.end()), param_shape, kFloat64).to(dtype) : Tensor();
                   return std::vector<Tensor>{grad_x, grad_w, grad_b};
               },
               true);
    }
    return out;
}

std::string shape_tuple(const Shape& s) {
    std::string out = "(";
    for (std::size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
    return out + (s.size() == 1 ? ",)" : ")");
}
}  // namespace

LayerNorm::LayerNorm(LayerNormOptions options) : options_(std::move(options)) {
    set_name("LayerNorm");
    if (options_.normalized_shape().empty()) throw ValueError("LayerNorm: normalized_shape must have at least one dimension");
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
    return functional::layer_norm(input, options_.normalized_shape(), affine ? Tensor(weight) : Tensor(), affine ? Tensor(bias) : Tensor(),
                                  options_.eps());
}

std::string LayerNorm::extra_repr() const {
    char eps[32];
    std::snprintf(eps, sizeof eps, "%g", options_.eps());
    return shape_tuple(options_.normalized_shape()) + ", eps=" + eps + ", elementwise_affine=" + (options_.elementwise_affine() ? "True" : "False");
}

LazyLayerNorm::LazyLayerNorm(std::int64_t trailing_dims, double eps, bool elementwise_affine)
    : Lazy<LayerNorm>(LayerNormOptions(Shape(static_cast<std::size_t>(std::max<std::int64_t>(trailing_dims, 0)), 0))
                          .eps(eps)
                          .elementwise_affine(elementwise_affine)) {}

void LazyLayerNorm::infer_options(const std::vector<Tensor>& inputs) {
    const Tensor& x = inputs[0];
    const auto trailing_dims = static_cast<std::int64_t>(normalized_shape().size());
    if (x.dim() < trailing_dims) {
        throw ShapeError("LazyLayerNorm: cannot take the last " + std::to_string(trailing_dims) + " dims of input " + shape_to_list(x.shape()));
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
        throw ShapeError(name() + "(" + extra_repr() + "): expected input [N, " + std::to_string(options_.num_channels()) + ", *], got " +
                         shape_to_list(input.shape()));
    }
    const bool affine = options_.affine();
    return functional::group_norm(input, options_.num_groups(), affine ? Tensor(weight) : Tensor(), affine ? Tensor(bias) : Tensor(),
                                  options_.eps());
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
    if (inputs[0].dim() < 2) throw ShapeError("LazyGroupNorm: expected input [N, C, *], got " + shape_to_list(inputs[0].shape()));
    const std::int64_t c = inputs[0].size(1);
    if (c % options_.num_groups() != 0) throw ValueError("num_channels must be divisible by num_groups");
    options_.num_channels(c);
}

void LazyGroupNorm::lazy_load_finalize() {
    if (weight.defined()) options_.num_channels(weight.size(0));
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


namespace functional {

Tensor layer_norm(const Tensor& input, const Shape& normalized_shape, const Tensor& weight, const Tensor& bias, double eps) {
    const auto k = static_cast<std::int64_t>(normalized_shape.size());
    const Shape& s = input.shape();
    if (k == 0 || input.dim() < k || !std::equal(normalized_shape.begin(), normalized_shape.end(), s.end() - k)) {
        Shape expected{-1};
        expected.insert(expected.end(), normalized_shape.begin(), normalized_shape.end());
        throw ShapeError("Given normalized_shape=" + shape_to_list(normalized_shape) + ", expected input with shape [*, " +
                         shape_to_list(normalized_shape).substr(1) + ", but got input of size " + shape_to_list(s));
    }
    for (const Tensor* t : {&weight, &bias}) {
        if (t->defined() && t->shape() != normalized_shape) {
            throw ShapeError("layer_norm: expected weight and bias of shape " + shape_to_list(normalized_shape) + ", got " +
                             shape_to_list(t->shape()));
        }
    }
    std::int64_t len = 1;
    for (std::int64_t d : normalized_shape) len *= d;
    return normalize_rows(input, weight, bias, len, eps, "layer_norm");
}

Tensor group_norm(const Tensor& input, std::int64_t num_groups, const Tensor& weight, const Tensor& bias, double eps) {
    if (input.dim() < 2) throw ShapeError("group_norm: expected input [N, C, *], got " + shape_to_list(input.shape()));
    const std::int64_t n = input.size(0), c = input.size(1);
    if (num_groups <= 0 || c % num_groups != 0) {
        throw ValueError("group_norm: expected the number of channels " + std::to_string(c) + " to be divisible by num_groups=" +
                         std::to_string(num_groups));
    }
    for (const Tensor* t : {&weight, &bias}) {
        if (t->defined() && t->shape() != Shape{c}) {
            throw ShapeError("group_norm: expected weight and bias of shape [" + std::to_string(c) + "], got " + shape_to_list(t->shape()));
        }
    }
    const std::int64_t groups = n * num_groups;
    Tensor out = normalize_rows(input, Tensor(), Tensor(), groups == 0 ? 0 : input.numel() / groups, eps, "group_norm");
    if (!weight.defined() && !bias.defined()) return out;
    Shape channel(static_cast<std::size_t>(input.dim()), 1);
    channel[1] = c;
    if (weight.defined()) out = out * weight.reshape(channel);
    return bias.defined() ? out + bias.reshape(channel) : out;
}

}  // namespace functional

}  // namespace lazynn::nn
