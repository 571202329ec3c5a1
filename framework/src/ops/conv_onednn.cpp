#include "ops/conv_onednn.hpp"

#include "autograd/function_node.hpp"
#include "ops/channel_blocks.hpp"
#include "ops/conv_graph.hpp"
#include "ops/fused_relu.hpp"
#include "ops/onednn.hpp"
#include "parallel.hpp"
#include "signals.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>
#include <vector>

namespace lazynn::ops::detail {

std::int64_t ConvProblem::input_numel() const {
    std::int64_t e = c;
    for (int d = 0; d < spatial; ++d) e *= in[static_cast<std::size_t>(d)];
    return e;
}

std::int64_t ConvProblem::output_numel() const {
    std::int64_t e = o;
    for (int d = 0; d < spatial; ++d) e *= out[static_cast<std::size_t>(d)];
    return e;
}

std::int64_t ConvProblem::weight_numel() const {
    std::int64_t e = o * (c / groups);
    for (int d = 0; d < spatial; ++d) e *= kernel[static_cast<std::size_t>(d)];
    return e;
}

namespace {

using dnnl::memory;
using tag = dnnl::memory::format_tag;

/// Which of the three primitives, and whether a forward fuses ReLU.
enum class Pass { forward, forward_relu, backward_data, backward_weights };

/// A cache key: the pass, whether a bias takes part, and the problem with `n` set to the chunk's batch.
using Key = std::array<std::int64_t, 31>;

Key key_of(Pass pass, bool bias, const ConvProblem& p, std::int64_t n) {
    Key k{};
    std::size_t i = 0;
    for (std::int64_t v : {static_cast<std::int64_t>(pass), static_cast<std::int64_t>(bias),
                           static_cast<std::int64_t>(p.dtype), static_cast<std::int64_t>(p.float32_input_gradient),
                           static_cast<std::int64_t>(p.spatial), n, p.c, p.o, p.groups, p.stored_output_channels}) {
        k[i++] = v;
    }
    for (const auto* field : {&p.in, &p.kernel, &p.out, &p.stride, &p.dilation, &p.pad_begin, &p.pad_end}) {
        for (int d = 0; d < 3; ++d) k[i++] = d < p.spatial ? (*field)[static_cast<std::size_t>(d)] : 0;
    }
    return k;
}

memory::dims spatial_dims(const ConvProblem& p, const std::array<std::int64_t, 3>& values, std::int64_t minus = 0) {
    memory::dims d;
    for (int i = 0; i < p.spatial; ++i) d.push_back(values[static_cast<std::size_t>(i)] - minus);
    return d;
}

memory::dims with_spatial(memory::dims head, const ConvProblem& p, const std::array<std::int64_t, 3>& values) {
    for (int i = 0; i < p.spatial; ++i) head.push_back(values[static_cast<std::size_t>(i)]);
    return head;
}

/// PyTorch's contiguous layouts in oneDNN's names.
tag activation_tag(int spatial) { return spatial == 1 ? tag::ncw : spatial == 2 ? tag::nchw : tag::ncdhw; }
tag weight_tag(int spatial, bool grouped) {
    if (grouped) return spatial == 1 ? tag::goiw : spatial == 2 ? tag::goihw : tag::goidhw;
    return spatial == 1 ? tag::oiw : spatial == 2 ? tag::oihw : tag::oidhw;
}

/// The user's (PyTorch-layout) memory descriptors of a problem with batch n and a pass. Activations and
/// weights are in p.dtype, except the float32 outputs: a weight gradient, and an input gradient when
/// p.float32_input_gradient. The bias is always float32.
struct UserDescs {
    memory::desc src, weights, dst, bias;
};

memory::data_type data_type(const ConvProblem& p) {
    return p.dtype == kBFloat16 ? memory::data_type::bf16 : memory::data_type::f32;
}

/// The output [n, p.o, out...]: contiguous, or p.o channels of a tensor of p.stored_output_channels.
memory::desc output_desc(const ConvProblem& p, std::int64_t n, memory::data_type dt) {
    const memory::dims dims = with_spatial({n, p.o}, p, p.out);
    if (p.stored_output_channels == 0 || p.stored_output_channels == p.o)
        return memory::desc(dims, dt, activation_tag(p.spatial));
    std::int64_t plane = 1;
    for (int d = 0; d < p.spatial; ++d) plane *= p.out[static_cast<std::size_t>(d)];
    memory::dims strides{p.stored_output_channels * plane, plane};
    for (int d = 0; d < p.spatial; ++d) {
        plane /= p.out[static_cast<std::size_t>(d)];
        strides.push_back(plane);
    }
    return memory::desc(dims, dt, strides);
}

UserDescs user_descs(const ConvProblem& p, std::int64_t n, Pass pass) {
    const auto f32 = memory::data_type::f32, dt = data_type(p);
    const bool float32_weights = pass == Pass::backward_weights;
    const bool float32_src = pass == Pass::backward_data && p.float32_input_gradient;
    const bool grouped = p.groups > 1;
    const memory::dims wdims = grouped ? with_spatial({p.groups, p.o / p.groups, p.c / p.groups}, p, p.kernel)
                                       : with_spatial({p.o, p.c}, p, p.kernel);
    return {memory::desc(with_spatial({n, p.c}, p, p.in), float32_src ? f32 : dt, activation_tag(p.spatial)),
            memory::desc(wdims, float32_weights ? f32 : dt, weight_tag(p.spatial, grouped)), output_desc(p, n, dt),
            memory::desc({p.o}, f32, tag::x)};
}

/// The same sizes and types with every layout left to oneDNN.
UserDescs any_descs(const UserDescs& u) {
    auto any = [](const memory::desc& d) { return memory::desc(d.dims(), d.data_type(), tag::any); };
    return {any(u.src), any(u.weights), any(u.dst), u.bias};
}

/// Every primitive takes its scratchpad from the executing thread's buffers (onednn::execute) rather than
/// from oneDNN's library-managed one, so chunks of one call running the same primitive on several
/// threads can never share temporary memory.
dnnl::primitive_attr user_scratchpad() {
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    return attr;
}

/// The forward primitive. It is always asked for as forward_training, also when no gradient follows:
/// for that kind oneDNN picks its blocked-layout kernels, whose output reorders back to the user's
/// layout cheaply, where forward_inference picks (on AVX-512) channels-last brgemm kernels whose output
/// transposition costs more than their gain (benchmarks/conv_layouts.cpp; docs/performance.md,
/// "Convolution layouts").
dnnl::convolution_forward::primitive_desc forward_desc(const ConvProblem& p, std::int64_t n, bool bias, bool relu) {
    const UserDescs a = any_descs(user_descs(p, n, Pass::forward));
    const auto strides = spatial_dims(p, p.stride), dilates = spatial_dims(p, p.dilation, 1);
    const auto pad_l = spatial_dims(p, p.pad_begin), pad_r = spatial_dims(p, p.pad_end);
    const auto kind = dnnl::prop_kind::forward_training;
    const auto d = bias ? dnnl::convolution_forward::desc(kind, dnnl::algorithm::convolution_direct, a.src, a.weights,
                                                          a.bias, a.dst, strides, dilates, pad_l, pad_r)
                        : dnnl::convolution_forward::desc(kind, dnnl::algorithm::convolution_direct, a.src, a.weights,
                                                          a.dst, strides, dilates, pad_l, pad_r);
    dnnl::primitive_attr attr = user_scratchpad();
    if (relu) {
        dnnl::post_ops ops;
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
        // Some kernels' ReLU is x * 0 below zero: -0.0 for a negative x, where PyTorch's is +0.0.
        // Adding +0.0 (1 * y + 0) turns -0.0 into +0.0 and leaves every other value, NaN too.
        ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_linear, 1.0f, 0.0f);
        attr.set_post_ops(ops);
    }
    return dnnl::convolution_forward::primitive_desc(d, attr, onednn::engine());
}

/// A primitive and the scratchpad it needs.
struct Step {
    dnnl::primitive primitive;
    memory::desc scratchpad;
};

void run(const Step& step, std::unordered_map<int, memory> args) {
    onednn::execute(step.primitive, step.scratchpad, std::move(args));
}

/// The 16-channel blocked layout of activations of `dims` (nCw16c, nChw16c, nCdhw16c).
memory::desc channel_blocked(const memory::dims& dims, memory::data_type dt) {
    const tag t = dims.size() == 3 ? tag::aBc16b : dims.size() == 4 ? tag::aBcd16b : tag::aBcde16b;
    return memory::desc(dims, dt, t);
}

/// Whether d is an activation in planes: each channel's pixels dense, channels a plane apart, samples
/// any whole number of planes apart (PyTorch's contiguous layout, or channels of a larger tensor).
bool in_planes(const memory::desc& d) {
    const dnnl_memory_desc_t& m = d.data;
    if (m.format_kind != dnnl_blocked || m.ndims < 3 || m.offset0 != 0) return false;
    const dnnl_blocking_desc_t& b = m.format_desc.blocking;
    if (b.inner_nblks != 0 || b.strides[m.ndims - 1] != 1) return false;
    for (int i = 1; i + 1 < m.ndims; ++i) {
        if (b.strides[i] != b.strides[i + 1] * m.dims[i + 1]) return false;
    }
    return b.strides[0] >= m.dims[1] * b.strides[1];
}

/// A change of layout between the user's buffer and a primitive's. oneDNN 2.6 moves 16-bit
/// activations between planes and its 16-channel blocks with its generic reorder (jit:uni); lazynn's
/// transposition in registers does it 2.5-5x faster (ops/channel_blocks.hpp, docs/design.md
/// decision 27), so those two go there and every other change to oneDNN's reorder.
class Reorder {
public:
    Reorder(const memory::desc& from, const memory::desc& to) {
        const bool sixteen_bit = from.data_type() == memory::data_type::bf16 && to.data_type() == from.data_type();
        if (sixteen_bit && in_planes(from) && to == channel_blocked(to.dims(), to.data_type())) {
            kind_ = Kind::planes_to_blocks;
            set_geometry(from);
        } else if (sixteen_bit && in_planes(to) && from == channel_blocked(from.dims(), from.data_type())) {
            kind_ = Kind::blocks_to_planes;
            set_geometry(to);
        } else {
            const dnnl::reorder::primitive_desc pd(onednn::engine(), from, onednn::engine(), to, user_scratchpad());
            onednn_ = Step{dnnl::reorder(pd), pd.scratchpad_desc()};
        }
    }

    /// Requires: `from` and `to` are memories of the descriptors this was made for.
    void operator()(const memory& from, const memory& to) const {
        if (kind_ == Kind::onednn) return run(onednn_, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
        const bool to_blocks = kind_ == Kind::planes_to_blocks;
        auto* plane_data = static_cast<std::uint16_t*>((to_blocks ? from : to).get_data_handle());
        auto* block_data = static_cast<std::uint16_t*>((to_blocks ? to : from).get_data_handle());
        const std::int64_t blocks = (channels_ + kChannelBlockWidth - 1) / kChannelBlockWidth;
        for (std::int64_t n = 0; n < samples_; ++n) {
            for (std::int64_t b = 0; b < blocks; ++b) {
                std::uint16_t* plane = plane_data + n * sample_stride_ + b * kChannelBlockWidth * pixels_;
                std::uint16_t* block = block_data + (n * blocks + b) * kChannelBlockWidth * pixels_;
                const std::int64_t c = std::min(kChannelBlockWidth, channels_ - b * kChannelBlockWidth);
                if (to_blocks) {
                    planes_to_channel_block(plane, pixels_, c, pixels_, block);
                } else {
                    channel_block_to_planes(block, c, pixels_, plane, pixels_);
                }
            }
        }
    }

private:
    enum class Kind { onednn, planes_to_blocks, blocks_to_planes };

    /// The sizes of the activation in planes (in_planes(planes)) that every call moves.
    void set_geometry(const memory::desc& planes) {
        const memory::dims dims = planes.dims();
        samples_ = dims[0];
        channels_ = dims[1];
        for (std::size_t d = 2; d < dims.size(); ++d) pixels_ *= dims[d];
        sample_stride_ = planes.data.format_desc.blocking.strides[0];
    }

    Kind kind_ = Kind::onednn;
    Step onednn_;
    std::int64_t samples_ = 0, channels_ = 0, pixels_ = 1, sample_stride_ = 0;
};

/// One cached convolution primitive with the layouts it wants and the reorders from and to the user's layouts.
struct Plan {
    Step convolution;
    memory::desc src, weights, dst;  // the primitive's layouts (forward naming, also for gradients)
    UserDescs user;
    std::unique_ptr<Reorder> src_in, weights_in, dst_in, dst_out, weights_out, src_out;
};

std::unique_ptr<Reorder> reorder_if_needed(const memory::desc& from, const memory::desc& to) {
    if (from == to) return nullptr;
    return std::make_unique<Reorder>(from, to);
}

std::unique_ptr<Plan> make_plan(Pass pass, bool bias, const ConvProblem& p, std::int64_t n) {
    auto plan = std::make_unique<Plan>();
    plan->user = user_descs(p, n, pass);
    const UserDescs& u = plan->user;
    const UserDescs a = any_descs(u);
    const auto strides = spatial_dims(p, p.stride), dilates = spatial_dims(p, p.dilation, 1);
    const auto pad_l = spatial_dims(p, p.pad_begin), pad_r = spatial_dims(p, p.pad_end);
    const auto alg = dnnl::algorithm::convolution_direct;
    if (pass == Pass::forward || pass == Pass::forward_relu) {
        const auto pd = forward_desc(p, n, bias, pass == Pass::forward_relu);
        plan->convolution = {dnnl::convolution_forward(pd), pd.scratchpad_desc()};
        plan->src = pd.src_desc(), plan->weights = pd.weights_desc(), plan->dst = pd.dst_desc();
        plan->src_in = reorder_if_needed(u.src, plan->src);
        plan->weights_in = reorder_if_needed(u.weights, plan->weights);
        plan->dst_out = reorder_if_needed(plan->dst, u.dst);
    } else if (pass == Pass::backward_data) {
        const auto hint = forward_desc(p, n, false, false);
        const dnnl::convolution_backward_data::desc d(alg, a.src, a.weights, a.dst, strides, dilates, pad_l, pad_r);
        const dnnl::convolution_backward_data::primitive_desc pd(d, user_scratchpad(), onednn::engine(), hint);
        plan->convolution = {dnnl::convolution_backward_data(pd), pd.scratchpad_desc()};
        plan->src = pd.diff_src_desc(), plan->weights = pd.weights_desc(), plan->dst = pd.diff_dst_desc();
        plan->dst_in = reorder_if_needed(u.dst, plan->dst);
        plan->weights_in = reorder_if_needed(u.weights, plan->weights);
        plan->src_out = reorder_if_needed(plan->src, u.src);
    } else {
        const auto hint = forward_desc(p, n, bias, false);
        // A first layer's few input channels (an image's 1 or 3) would be padded to a whole channel
        // block in a blocked source layout: 8x the work for 1 channel. Its plain layout has a kernel
        // of its own, measured 10x faster for the weight gradient of a 1-channel 3x3 convolution.
        const memory::desc src = p.c / p.groups < 8 ? u.src : a.src;
        const auto d =
            bias ? dnnl::convolution_backward_weights::desc(alg, src, a.weights, a.bias, a.dst, strides, dilates, pad_l,
                                                            pad_r)
                 : dnnl::convolution_backward_weights::desc(alg, src, a.weights, a.dst, strides, dilates, pad_l, pad_r);
        const dnnl::convolution_backward_weights::primitive_desc pd(d, user_scratchpad(), onednn::engine(), hint);
        plan->convolution = {dnnl::convolution_backward_weights(pd), pd.scratchpad_desc()};
        plan->src = pd.src_desc(), plan->weights = pd.diff_weights_desc(), plan->dst = pd.diff_dst_desc();
        plan->src_in = reorder_if_needed(u.src, plan->src);
        plan->dst_in = reorder_if_needed(u.dst, plan->dst);
        plan->weights_out = reorder_if_needed(plan->weights, u.weights);
    }
    return plan;
}

/// Plans live for the process: a model's convolutions meet few distinct problems.
const Plan& plan_for(Pass pass, bool bias, const ConvProblem& p, std::int64_t n) {
    static std::mutex mutex;
    static std::map<Key, std::unique_ptr<Plan>> plans;
    const Key key = key_of(pass, bias, p, n);
    std::lock_guard lock(mutex);
    auto it = plans.find(key);
    if (it == plans.end()) it = plans.emplace(key, make_plan(pass, bias, p, n)).first;
    return *it->second;
}

using onednn::BufferSlot;
using onednn::kChunkWeightsBuffer;
using onednn::kDiffWeightsBuffer;
using onednn::kDstBuffer;
using onednn::kSrcBuffer;
using onednn::kWeightsBuffer;

/// Element `index` of a buffer of p.dtype elements, or of float32 ones when `float32`.
const void* at(const ConvProblem& p, const void* data, std::int64_t index) {
    return static_cast<const char*>(data) + index * static_cast<std::int64_t>(dtype_size(p.dtype));
}
void* at(const ConvProblem& p, void* data, std::int64_t index, bool float32 = false) {
    return static_cast<char*>(data) + index * static_cast<std::int64_t>(dtype_size(float32 ? kFloat32 : p.dtype));
}

/// The memory a primitive reads: the user's buffer itself, or a blocked copy of it.
memory input_memory(const std::unique_ptr<Reorder>& reorder, const memory::desc& user, const memory::desc& wanted,
                    const void* data, BufferSlot slot) {
    memory user_memory(user, onednn::engine(), const_cast<void*>(data));  // oneDNN reads it only
    if (!reorder) return user_memory;
    memory blocked(wanted, onednn::engine(), onednn::thread_buffer(slot, wanted.get_size()));
    (*reorder)(user_memory, blocked);
    return blocked;
}

/// The memory a primitive writes: the user's buffer, or a blocked buffer reordered into it afterwards.
memory output_memory(const std::unique_ptr<Reorder>& reorder, const memory::desc& user, const memory::desc& produced,
                     void* data, BufferSlot slot) {
    if (!reorder) return memory(user, onednn::engine(), data);
    return memory(produced, onednn::engine(), onednn::thread_buffer(slot, produced.get_size()));
}

void finish_output(const std::unique_ptr<Reorder>& reorder, memory& produced, const memory::desc& user, void* data) {
    if (!reorder) return;
    memory user_memory(user, onednn::engine(), data);
    (*reorder)(produced, user_memory);
}

/// The weights a chunk's primitive reads: those reordered once for the whole batch, unless the chunk's
/// smaller batch made oneDNN pick another layout.
memory chunk_weights_memory(const Plan& chunk, const Plan& whole, const memory& whole_weights, const void* w) {
    if (chunk.weights == whole.weights) return whole_weights;
    return input_memory(chunk.weights_in, chunk.user.weights, chunk.weights, w, kChunkWeightsBuffer);
}

/// Samples per primitive call: a thread's share of the batch runs in pieces whose input and output
/// each take at most about this many bytes, so that the reorders around the primitive and the
/// primitive itself work in the core's cache instead of streaming a large batch's activations
/// through memory several times (docs/performance.md, "Convolution batch pieces").
std::int64_t piece_samples(const ConvProblem& p) {
    constexpr std::int64_t kPieceBytes = std::int64_t{1} << 20;  // half a current Xeon core's L2
    const std::int64_t per_sample =
        static_cast<std::int64_t>(dtype_size(p.dtype)) * std::max(p.input_numel(), p.output_numel());
    return std::max<std::int64_t>(1, kPieceBytes / std::max<std::int64_t>(per_sample, 1));
}

/// Runs body(first, last) over the batch on lazynn's threads, each thread's share in pieces of
/// at most piece_samples(p) samples.
template <class Body>
void over_batch(const ConvProblem& p, Body&& body) {
    const std::int64_t piece = piece_samples(p);
    lazynn::detail::parallel_for(p.n, 1, [&](std::int64_t first, std::int64_t last) {
        onednn::use_calling_thread_only();
        // Equal pieces, so that a share needs at most two primitive sizes.
        const std::int64_t pieces = (last - first + piece - 1) / piece;
        for (std::int64_t k = 0; k < pieces; ++k)
            body(first + (last - first) * k / pieces, first + (last - first) * (k + 1) / pieces);
    });
}

template <class F>
void guarded(const char* op, F&& f) {
    try {
        f();
    } catch (const dnnl::error& e) {
        onednn::rethrow(op, e);
    }
}

using autograd::detail::BackwardInputs;
using autograd::detail::needs_grad;
using autograd::detail::record;
using autograd::detail::SavedTensor;

/// A float32 copy of an optional bias, contiguous.
Tensor float_bias(const Tensor& bias) {
    if (!bias.defined()) return Tensor();
    return lazynn::detail::contiguous_data(bias.dtype() == kFloat32 ? bias : bias.to(kFloat32));
}

/// One forward primitive call of `plan` on input x and output y (the plan's batch, in the user's
/// layouts; y may be a block of a larger tensor's channels); `weights` already in the plan's layout.
void forward_call(const Plan& plan, const void* x, const memory& weights, const float* bias, void* y) {
    memory src = input_memory(plan.src_in, plan.user.src, plan.src, x, kSrcBuffer);
    memory dst = output_memory(plan.dst_out, plan.user.dst, plan.dst, y, kDstBuffer);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, weights}, {DNNL_ARG_DST, dst}};
    if (bias) args.emplace(DNNL_ARG_BIAS, memory(plan.user.bias, onednn::engine(), const_cast<float*>(bias)));
    run(plan.convolution, std::move(args));
    finish_output(plan.dst_out, dst, plan.user.dst, y);
}

/// oneDNN's widest channel block (AVX-512): a thread's share of the output channels is whole blocks.
constexpr std::int64_t kChannelBlock = 16;

/// The blocks of output channels a forward splits over the threads: more than one when the batch has
/// fewer samples than there are threads (inference at batch 1), which would leave threads idle.
std::int64_t output_channel_parts(const ConvProblem& p) {
    const std::int64_t threads = lazynn::detail::intra_op_threads();
    if (p.groups != 1 || p.n >= threads) return 1;
    return std::clamp<std::int64_t>(p.o / kChannelBlock, 1, threads);
}

/// The forward over `parts` blocks of output channels, one primitive call each on lazynn's threads:
/// every call reads the whole input, its own rows of the weights and bias, and writes its channels.
void forward_over_output_channels(const ConvProblem& p, std::int64_t parts, Pass pass, const void* x, const void* w,
                                  const float* bias, void* y) {
    const std::int64_t blocks = p.o / kChannelBlock;
    const auto boundary = [&](std::int64_t k) { return k == parts ? p.o : blocks * k / parts * kChannelBlock; };
    const std::int64_t plane = p.output_numel() / p.o, weight_rows = p.weight_numel() / p.o;
    lazynn::detail::parallel_for(parts, 1, [&](std::int64_t first, std::int64_t last) {
        onednn::use_calling_thread_only();
        for (std::int64_t k = first; k < last; ++k) {
            ConvProblem part = p;
            part.o = boundary(k + 1) - boundary(k);
            part.stored_output_channels = p.o;
            const std::int64_t o0 = boundary(k);
            const Plan& plan = plan_for(pass, bias != nullptr, part, p.n);
            const memory weights = input_memory(plan.weights_in, plan.user.weights, plan.weights,
                                                at(p, w, o0 * weight_rows), kWeightsBuffer);
            forward_call(plan, x, weights, bias ? bias + o0 : nullptr, at(p, y, o0 * plane));
        }
    });
}

}  // namespace

void onednn_conv_forward(const ConvProblem& p, const void* x, const void* w, const float* bias, bool relu, void* y) {
    if (p.n == 0) return;
    guarded("conv forward", [&] {
        const Pass pass = relu ? Pass::forward_relu : Pass::forward;
        if (const std::int64_t parts = output_channel_parts(p); parts > 1) {
            forward_over_output_channels(p, parts, pass, x, w, bias, y);
            return;
        }
        // The weights are reordered once, on the calling thread, for every chunk.
        const Plan& whole = plan_for(pass, bias != nullptr, p, p.n);
        onednn::use_calling_thread_only();
        memory weights = input_memory(whole.weights_in, whole.user.weights, whole.weights, w, kWeightsBuffer);
        over_batch(p, [&](std::int64_t first, std::int64_t last) {
            const Plan& plan = plan_for(pass, bias != nullptr, p, last - first);
            forward_call(plan, at(p, x, first * p.input_numel()), chunk_weights_memory(plan, whole, weights, w), bias,
                         at(p, y, first * p.output_numel()));
        });
    });
}

namespace {

/// The input gradient of samples [first, last) (`whole`: the whole batch's plan, whose reordered
/// weights are `weights`). Returns the chunk's output gradient as the primitive read it.
memory input_gradient_chunk(const ConvProblem& p, const Plan& whole, const memory& weights, const void* w,
                            const void* gy, void* gx, std::int64_t first, std::int64_t last) {
    const Plan& plan = plan_for(Pass::backward_data, false, p, last - first);
    memory diff_dst =
        input_memory(plan.dst_in, plan.user.dst, plan.dst, at(p, gy, first * p.output_numel()), kDstBuffer);
    void* out = at(p, gx, first * p.input_numel(), p.float32_input_gradient);
    memory diff_src = output_memory(plan.src_out, plan.user.src, plan.src, out, kSrcBuffer);
    run(plan.convolution, {{DNNL_ARG_DIFF_DST, diff_dst},
                           {DNNL_ARG_WEIGHTS, chunk_weights_memory(plan, whole, weights, w)},
                           {DNNL_ARG_DIFF_SRC, diff_src}});
    finish_output(plan.src_out, diff_src, plan.user.src, out);
    return diff_dst;
}

}  // namespace

void onednn_conv_backward_data(const ConvProblem& p, const void* gy, const void* w, void* gx) {
    if (p.n == 0) return;
    guarded("conv backward (input gradient)", [&] {
        const Plan& whole = plan_for(Pass::backward_data, false, p, p.n);
        onednn::use_calling_thread_only();
        memory weights = input_memory(whole.weights_in, whole.user.weights, whole.weights, w, kWeightsBuffer);
        over_batch(p, [&](std::int64_t first, std::int64_t last) {
            (void)input_gradient_chunk(p, whole, weights, w, gy, gx, first, last);
        });
    });
}

namespace {

/// A weight gradient computed in batch chunks: each chunk writes its own partial gradients, added
/// up in batch order at the end, so a run is reproducible whichever thread finishes first.
class WeightGradient {
public:
    WeightGradient(const ConvProblem& p, float* gw, float* gb) : p_(p), gw_(gw), gb_(gb) {}

    /// Runs the weight-gradient primitive for samples [first, last), whose output gradient is
    /// `diff_dst` in the plan's layout.
    void chunk(const Plan& plan, const void* x, const memory& diff_dst, std::int64_t first, std::int64_t last) {
        const std::int64_t weight_numel = p_.weight_numel();
        const bool whole = first == 0 && last == p_.n;
        memory src =
            input_memory(plan.src_in, plan.user.src, plan.src, at(p_, x, first * p_.input_numel()), kSrcBuffer);
        // The partial (plain layout): the caller's buffers when one chunk covers the batch.
        std::vector<float> partial(whole ? 0 : static_cast<std::size_t>(weight_numel + p_.o));
        float* weights_out = whole ? gw_ : partial.data();
        float* bias_out = whole ? gb_ : partial.data() + weight_numel;
        memory diff_weights =
            output_memory(plan.weights_out, plan.user.weights, plan.weights, weights_out, kDiffWeightsBuffer);
        std::unordered_map<int, memory> args{
            {DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_DIFF_WEIGHTS, diff_weights}};
        if (gb_) args.emplace(DNNL_ARG_DIFF_BIAS, memory(plan.user.bias, onednn::engine(), bias_out));
        run(plan.convolution, std::move(args));
        finish_output(plan.weights_out, diff_weights, plan.user.weights, weights_out);
        if (whole) return;
        std::lock_guard lock(merge_);
        partials_.emplace_back(first, std::move(partial));
    }

    /// Adds the chunks' partial gradients into gw and gb, in batch order.
    void finish() {
        if (partials_.empty()) return;
        const std::int64_t weight_numel = p_.weight_numel();
        std::sort(partials_.begin(), partials_.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        std::copy_n(partials_[0].second.data(), weight_numel, gw_);
        if (gb_) std::copy_n(partials_[0].second.data() + weight_numel, p_.o, gb_);
        for (std::size_t i = 1; i < partials_.size(); ++i) {
            const float* part = partials_[i].second.data();
            for (std::int64_t e = 0; e < weight_numel; ++e) gw_[e] += part[e];
            if (gb_) {
                for (std::int64_t e = 0; e < p_.o; ++e) gb_[e] += part[weight_numel + e];
            }
        }
    }

private:
    const ConvProblem& p_;
    float* gw_;
    float* gb_;
    std::mutex merge_;
    std::vector<std::pair<std::int64_t, std::vector<float>>> partials_;
};

/// No samples: zero gradients.
void zero_weight_gradient(const ConvProblem& p, float* gw, float* gb) {
    std::fill_n(gw, p.weight_numel(), 0.0f);
    if (gb) std::fill_n(gb, p.o, 0.0f);
}

}  // namespace

void onednn_conv_backward_weights(const ConvProblem& p, const void* x, const void* gy, float* gw, float* gb) {
    if (p.n == 0) return zero_weight_gradient(p, gw, gb);
    guarded("conv backward (weight gradient)", [&] {
        WeightGradient gradient(p, gw, gb);
        over_batch(p, [&](std::int64_t first, std::int64_t last) {
            const Plan& plan = plan_for(Pass::backward_weights, gb != nullptr, p, last - first);
            const memory diff_dst =
                input_memory(plan.dst_in, plan.user.dst, plan.dst, at(p, gy, first * p.output_numel()), kDstBuffer);
            gradient.chunk(plan, x, diff_dst, first, last);
        });
        gradient.finish();
    });
}

void onednn_conv_backward(const ConvProblem& p, const void* x, const void* gy, const void* w, void* gx, float* gw,
                          float* gb) {
    if (p.n == 0) return zero_weight_gradient(p, gw, gb);
    guarded("conv backward", [&] {
        const Plan& whole = plan_for(Pass::backward_data, false, p, p.n);
        onednn::use_calling_thread_only();
        memory weights = input_memory(whole.weights_in, whole.user.weights, whole.weights, w, kWeightsBuffer);
        WeightGradient gradient(p, gw, gb);
        over_batch(p, [&](std::int64_t first, std::int64_t last) {
            // The input gradient first; its reordered output gradient then serves the weight
            // gradient too when both primitives want the same layout.
            memory diff_dst = input_gradient_chunk(p, whole, weights, w, gy, gx, first, last);
            const Plan& data = plan_for(Pass::backward_data, false, p, last - first);
            const Plan& weight_plan = plan_for(Pass::backward_weights, gb != nullptr, p, last - first);
            if (weight_plan.dst != data.dst) {
                diff_dst = input_memory(weight_plan.dst_in, weight_plan.user.dst, weight_plan.dst,
                                        at(p, gy, first * p.output_numel()), kDstBuffer);
            }
            gradient.chunk(weight_plan, x, diff_dst, first, last);
        });
        gradient.finish();
    });
}

namespace {

/// A float32 problem's buffer as the raw passes take it, or a bfloat16 one's.
const void* raw(const Tensor& t) {
    return t.dtype() == kBFloat16 ? static_cast<const void*>(t.impl().data<BFloat16>())
                                  : static_cast<const void*>(t.impl().data<float>());
}
void* raw(Tensor& t) {
    return t.dtype() == kBFloat16 ? static_cast<void*>(t.impl().data<BFloat16>())
                                  : static_cast<void*>(t.impl().data<float>());
}

/// The problem with its dtype taken from the input.
ConvProblem typed(const ConvProblem& p, const Tensor& input) {
    ConvProblem typed = p;
    typed.dtype = input.dtype();
    return typed;
}

/// A float32 gradient buffer of `shape`, and the gradient in `dtype` it becomes (rounded once).
Tensor float32_buffer(const Shape& shape) { return lazynn::detail::empty_tensor(shape, kFloat32); }
Tensor in_dtype(const Tensor& float32, Dtype dtype) { return dtype == kFloat32 ? float32 : float32.to(dtype); }

}  // namespace

/// float32 or bfloat16 convolution (+ ReLU) of any spatial rank on oneDNN, with its backward.
/// Shapes: input [N, C, in...], weight [O, C/groups, k...], bias [O] or undefined -> [N, O, out...].
Tensor convolution_onednn(const Tensor& input, const Tensor& weight, const Tensor& bias, const ConvProblem& problem,
                          bool relu) {
    const ConvProblem p = typed(problem, input);
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor w = lazynn::detail::contiguous_data(weight);
    const Tensor b = float_bias(bias);
    Shape out_shape{p.n, p.o};
    for (int d = 0; d < p.spatial; ++d) out_shape.push_back(p.out[static_cast<std::size_t>(d)]);
    Tensor out = lazynn::detail::empty_tensor(out_shape, p.dtype);
    onednn_conv_forward(p, raw(x), raw(w), b.defined() ? b.impl().data<float>() : nullptr, relu, raw(out));
    if (needs_grad({&input, &weight, &bias})) {
        const bool gi = input.requires_grad(), gw = weight.requires_grad(), gb = bias.defined() && bias.requires_grad();
        record(
            out, relu ? "ReluBackward0" : "ConvolutionBackward0", {input, weight, bias},
            [p, sx = SavedTensor(x), sw = SavedTensor(w), so = relu ? SavedTensor(out) : SavedTensor(), relu, gi, gw,
             gb, bias_dtype = bias.defined() ? bias.dtype() : kFloat32](const Tensor& g_in) {
                Tensor go = lazynn::detail::contiguous_data(g_in.to(p.dtype));
                if (relu) go = relu_backward(go, so.unpack());  // the gradient through the fused ReLU
                const Tensor xv = sx.unpack(), wv = sw.unpack();
                Tensor grad_input, grad_weight, grad_bias;
                if (gi) grad_input = lazynn::detail::empty_tensor(xv.shape(), p.dtype);
                if (gw || gb) {
                    // oneDNN computes both together, in float32; a bias gradient alone still needs a weight buffer.
                    Tensor weights = float32_buffer(wv.shape()), biases = gb ? float32_buffer({p.o}) : Tensor();
                    float* bias_out = gb ? biases.impl().data<float>() : nullptr;
                    if (gi) {  // both gradients in one pass over the batch
                        onednn_conv_backward(p, raw(xv), raw(go), raw(wv), raw(grad_input),
                                             weights.impl().data<float>(), bias_out);
                    } else {
                        onednn_conv_backward_weights(p, raw(xv), raw(go), weights.impl().data<float>(), bias_out);
                    }
                    if (gw) grad_weight = in_dtype(weights, p.dtype);
                    if (gb) grad_bias = in_dtype(biases, bias_dtype);
                } else if (gi) {
                    onednn_conv_backward_data(p, raw(go), raw(wv), raw(grad_input));
                }
                return std::vector<Tensor>{grad_input, grad_weight, grad_bias};
            },
            true,
            [p, so = relu ? SavedTensor(out) : SavedTensor(), relu](const Tensor& g, const BackwardInputs& in) {
                // The fused ReLU's mask is locally constant: its second derivative is zero.
                const Tensor gy = relu ? g * (so.unpack() > 0.0).to(g.dtype()) : g;
                return convolution_backward_graph(p, gy, in[0], in[1], in.needs(0), in.needs(1), in.needs(2));
            });
    }
    return out;
}

/// float32 or bfloat16 transposed convolution of any spatial rank on oneDNN: the adjoint of the convolution
/// `p` describes, whose input is this op's output. Shapes: input [N, p.o, p.out...], weight [p.o, p.c/groups,
/// k...] -> [N, p.c, p.in...].
Tensor convolution_transpose_onednn(const Tensor& input, const Tensor& weight, const Tensor& bias,
                                    const ConvProblem& problem) {
    ConvProblem p = typed(problem, input);
    // A bfloat16 result with a bias is computed in float32, the bias added, and rounded once.
    p.float32_input_gradient = p.dtype != kFloat32 && bias.defined();
    const Tensor x = lazynn::detail::contiguous_data(input);
    const Tensor w = lazynn::detail::contiguous_data(weight);
    Shape out_shape{p.n, p.c};
    for (int d = 0; d < p.spatial; ++d) out_shape.push_back(p.in[static_cast<std::size_t>(d)]);
    Tensor out = lazynn::detail::empty_tensor(out_shape, p.float32_input_gradient ? kFloat32 : p.dtype);
    onednn_conv_backward_data(p, raw(x), raw(w), raw(out));
    if (needs_grad({&input, &weight})) {
        const bool gi = input.requires_grad(), gw = weight.requires_grad();
        record(
            out, "ConvolutionBackward0", {input, weight},
            [p, sx = SavedTensor(x), sw = SavedTensor(w), gi, gw](const Tensor& g_in) {
                const Tensor go = lazynn::detail::contiguous_data(g_in.to(p.dtype));
                const Tensor xv = sx.unpack(), wv = sw.unpack();
                Tensor grad_input, grad_weight;
                if (gi) {
                    grad_input = lazynn::detail::empty_tensor(xv.shape(), p.dtype);
                    onednn_conv_forward(p, raw(go), raw(wv), nullptr, false, raw(grad_input));
                }
                if (gw) {
                    Tensor weights = float32_buffer(wv.shape());
                    onednn_conv_backward_weights(p, raw(go), raw(xv), weights.impl().data<float>(), nullptr);
                    grad_weight = in_dtype(weights, p.dtype);
                }
                return std::vector<Tensor>{grad_input, grad_weight};
            },
            true,
            [p](const Tensor& g, const BackwardInputs& in) {
                // This op is the convolution's input gradient: its own gradients are that
                // convolution's forward (for the input) and weight gradient (roles swapped).
                return std::vector<Tensor>{in.needs(0) ? convolution_graph(p, g, in[1]) : Tensor(),
                                           in.needs(1) ? convolution_weight_grad_graph(p, g, in[0]) : Tensor()};
            });
    }
    Tensor result = out;
    if (bias.defined()) {  // a differentiable broadcast add: its gradient is the sum over batch and space
        Shape bias_shape(out_shape.size(), 1);
        bias_shape[1] = p.c;
        result = result + bias.to(out.dtype()).reshape(bias_shape);
    }
    return p.float32_input_gradient ? result.to(p.dtype) : result;
}

}  // namespace lazynn::ops::detail
