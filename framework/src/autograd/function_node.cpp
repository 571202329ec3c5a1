#include "autograd/function_node.hpp"
#include "ops/strided.hpp"

#include <algorithm>
#include <array>
#include <cstdint>

namespace lazynn::extension {

SavedTensor::SavedTensor(const Tensor& t) {
    if (!t.defined()) return;
    const TensorImpl& impl = t.impl();
    alias_ = Tensor(TensorImpl::alias(impl, impl.shape, impl.strides, impl.offset));
    alias_.impl().is_view = impl.is_view;
    version_ = impl.storage->version();
}

Tensor SavedTensor::unpack() const {
    if (alias_.defined() && alias_.impl().storage->version() != version_) {
        throw RuntimeError(
            "one of the variables needed for gradient computation has been modified by an inplace operation: "
            "a tensor of shape " +
            shape_to_list(alias_.impl().shape) + " is at version " + std::to_string(alias_.impl().storage->version()) +
            "; expected version " + std::to_string(version_) +
            " instead. Use the out-of-place op (e.g. `x = x + y` instead of `x += y`) before the tensor is used "
            "again.");
    }
    return alias_;
}

}  // namespace lazynn::extension

namespace lazynn::autograd::detail {

namespace {

[[noreturn]] void throw_freed() {
    throw RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved tensors after they have "
        "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
        "autograd::grad(). Specify retain_graph=true if you need to backward through the graph a second time or "
        "if you need to access saved tensors after calling backward.");
}

}  // namespace

Tensor BackwardInputs::operator[](std::size_t i) const {
    Tensor value = saved_.at(i).unpack();
    if (!value.defined()) return value;
    const TensorImpl& v = value.impl();
    Tensor t(TensorImpl::alias(v, v.shape, v.strides, v.offset));
    t.impl().is_view = v.is_view;
    if (edges_.at(i)) {
        t.impl().grad_fn = edges_[i];
        t.impl().requires_grad = true;
    }
    return t;
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
    if (!fn_) throw_freed();
    return fn_(grad_output);
}

std::vector<Tensor> FunctionNode::apply_with_graph(const Tensor& grad_output) {
    if (!fn_ || graph_released_) throw_freed();
    if (graph_fn_) return graph_fn_(grad_output, BackwardInputs(saved_inputs_, next_functions()));
    if (fast_differentiable_) return fn_(grad_output);
    return Node::apply_with_graph(grad_output);
}

std::vector<Tensor> DelayedError::apply(const Tensor&) {
    throw NotImplementedError(
        "double backward through " + node_ +
        " is not supported: its backward is not differentiable (see docs/tensors-and-autograd.md)");
}

Tensor run_grad_hook(const std::function<Tensor(const Tensor&)>& hook, const Tensor& grad) {
    Tensor replaced = hook(grad);
    if (!replaced.defined()) return grad;
    if (replaced.shape() != grad.shape()) {
        throw RuntimeError("hook has changed the size of value: expected " + shape_to_list(grad.shape()) + ", got " +
                           shape_to_list(replaced.shape()));
    }
    if (replaced.dtype() != grad.dtype()) {
        throw RuntimeError("hook has changed the type of value: expected " + dtype_name(grad.dtype()) + ", got " +
                           dtype_name(replaced.dtype()));
    }
    return replaced;
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
    TensorImpl& var = *variable_;
    if (grad_output.shape() != var.shape) {
        throw ShapeError("AccumulateGrad: gradient of shape " + shape_to_list(grad_output.shape()) +
                         " does not match the leaf's shape " + shape_to_list(var.shape));
    }
    std::vector<std::pair<std::uint64_t, std::function<Tensor(const Tensor&)>>> grad_hooks;
    {
        std::lock_guard<std::mutex> lock(autograd_mutex(&var));
        grad_hooks = var.grad_hooks;  // a copy: a hook may remove itself
    }
    // register_hook hooks see (and may replace) the gradient before it is accumulated.
    Tensor incoming = grad_output;
    for (const auto& [id, hook] : grad_hooks) incoming = run_grad_hook(hook, incoming);
    std::vector<std::pair<std::uint64_t, std::function<void(const Tensor&)>>> hooks;
    {
        std::lock_guard<std::mutex> lock(autograd_mutex(&var));
        if (is_grad_enabled()) {
            // create_graph: out of place, so .grad() carries the history of the gradient (PyTorch).
            const Tensor g = incoming.to(var.dtype);
            var.grad = var.grad.defined() ? var.grad + g : g.clone();
        } else if (!var.grad.defined()) {
            var.grad = incoming.to(var.dtype).clone();
        } else {
            var.grad.add_(incoming);
        }
        hooks = var.post_accumulate_hooks;  // a copy: a hook may remove itself
    }
    // Outside the lock: a hook may start work that touches other leaves.
    const Tensor leaf(variable_);
    for (const auto& [id, hook] : hooks) hook(leaf);
    return {};
}

std::mutex& autograd_mutex(const TensorImpl* impl) {
    static std::array<std::mutex, 64> table;
    const auto slot = (reinterpret_cast<std::uintptr_t>(impl) >> 4) % table.size();
    return table[slot];
}

namespace {

/// Where a tensor sits in its storage. Backward of views after in-place writes works in a flat
/// buffer the size of the storage, so the view and its base index it the way they index the data.
struct Geometry {
    Shape shape, strides;
    std::int64_t offset = 0;
    TensorImpl as_impl_of(const Tensor& buffer) const {
        TensorImpl impl;
        impl.storage = buffer.impl().storage;
        impl.shape = shape;
        impl.strides = strides;
        impl.offset = offset;
        impl.dtype = buffer.impl().dtype;
        return impl;
    }
};

Geometry geometry(const TensorImpl& impl) { return {impl.shape, impl.strides, impl.offset}; }

/// buffer[at] += g elementwise, where `at` may hit one element several times (expanded views).
void add_at(const Tensor& buffer, const Geometry& at, const Tensor& g) {
    const TensorImpl target = at.as_impl_of(buffer);
    const Tensor src = g.to(target.dtype);
    const std::array<Shape, 2> strides{target.strides, kernels::broadcast_strides(src.impl(), target.shape)};
    visit_dtype(target.dtype, [&](auto tag) {
        using T = typename decltype(tag)::type;
        T* out = static_cast<T*>(target.storage->raw()) + target.offset;
        const T* in = src.impl().data<T>();
        kernels::for_each_run<2>(target.shape, strides, [&](const auto& off, std::int64_t n, const auto& inner) {
            for (std::int64_t k = 0; k < n; ++k) out[off[0] + k * inner[0]] += in[off[1] + k * inner[1]];
        });
    });
}

/// A contiguous copy of buffer[at].
Tensor read_at(const Tensor& buffer, const Geometry& at) {
    const TensorImpl source = at.as_impl_of(buffer);
    Tensor out = lazynn::detail::empty_tensor(at.shape, source.dtype);
    kernels::copy_strided(out.impl(), source);
    return out;
}

/// The storage offset of every element of `at`, in row-major order (the create_graph formulas
/// below index a flat buffer with these). Shapes: -> [numel] int64.
Tensor storage_offsets(const Geometry& at) {
    const std::int64_t n = shape_numel(at.shape);
    std::vector<std::int64_t> offsets(static_cast<std::size_t>(n));
    Shape index(at.shape.size(), 0);
    for (std::int64_t k = 0; k < n; ++k) {
        std::int64_t offset = at.offset;
        for (std::size_t d = 0; d < index.size(); ++d) offset += index[d] * at.strides[d];
        offsets[static_cast<std::size_t>(k)] = offset;
        for (std::size_t d = index.size(); d-- > 0;) {  // the next row-major index
            if (++index[d] < at.shape[d]) break;
            index[d] = 0;
        }
    }
    return tensor(offsets, Shape{n});
}

/// g, laid into a zero buffer of `size` elements at the positions `at`, in recording ops.
Tensor spread_graph(const Tensor& g, const Geometry& at, std::int64_t size) {
    return zeros({size}, g.dtype()).scatter_add(0, storage_offsets(at), g.reshape({-1}));
}

/// buffer[at], in recording ops. Shapes: buffer [size] -> at.shape.
Tensor gather_graph(const Tensor& buffer, const Geometry& at) {
    return buffer.index_select(0, storage_offsets(at)).reshape(at.shape);
}

}  // namespace

void refresh_view_history(const Tensor& view) {
    TensorImpl& impl = view.impl();
    const std::shared_ptr<ViewMeta> meta = impl.view_meta;
    if (!meta || meta->version == impl.storage->version()) return;
    TensorImpl& base = *meta->base;
    if (!base.grad_fn && !base.requires_grad) {
        std::lock_guard<std::mutex> lock(autograd_mutex(&impl));
        meta->version = impl.storage->version();
        return;
    }
    if (meta->multi_output_creator) {
        throw RuntimeError("Output " + std::to_string(meta->output_index) + " of " + meta->multi_output_creator +
                           " is a view and its base or another view of its base has been modified inplace. This view "
                           "is the output of a function that returns multiple views. Such functions do not allow the "
                           "output views to be modified inplace. You should replace the inplace operation by an "
                           "out-of-place one.");
    }
    std::shared_ptr<Node> base_edge = gradient_edge(Tensor(meta->base));
    // The gradient of the view, placed where the view sits in the storage and read back as the base.
    auto node = std::make_shared<FunctionNode>(
        "AsStridedBackward0",
        [view_at = geometry(impl), base_at = geometry(base), size = impl.storage->size()](const Tensor& g) {
            // Summed in float32 for a 16-bit gradient, rounded once at the end.
            const Tensor buffer = zeros({size}, compute_dtype(g.dtype()));
            add_at(buffer, view_at, g);
            return std::vector<Tensor>{read_at(buffer, base_at).to(g.dtype())};
        },
        false);
    // The same, in recording ops for create_graph (linear in g).
    node->set_graph_formula(
        [view_at = geometry(impl), base_at = geometry(base), size = impl.storage->size()](const Tensor& g,
                                                                                          const BackwardInputs&) {
            return std::vector<Tensor>{gather_graph(spread_graph(g, view_at, size), base_at)};
        },
        {});
    node->set_next_functions({std::move(base_edge)});
    std::lock_guard<std::mutex> lock(autograd_mutex(&impl));
    impl.grad_fn = std::move(node);
    impl.requires_grad = true;
    meta->version = impl.storage->version();
}

void rebase_view_history(const Tensor& view, const Tensor& result) {
    TensorImpl& impl = view.impl();
    Tensor base(impl.view_meta->base);
    FunctionNode& node = record(
        base, "CopySlices", {base, result},
        [view_at = geometry(impl), base_at = geometry(base.impl()), size = impl.storage->size()](const Tensor& g) {
            // The base's old history gets the gradient outside the view; the written values get the inside.
            const Tensor buffer = zeros({size}, compute_dtype(g.dtype()));
            add_at(buffer, base_at, g);
            Tensor inside = read_at(buffer, view_at).to(g.dtype());
            TensorImpl region = view_at.as_impl_of(buffer);
            kernels::copy_strided(region, zeros({}, buffer.dtype()).impl());
            return std::vector<Tensor>{read_at(buffer, base_at).to(g.dtype()), std::move(inside)};
        },
        false);
    // The same, in recording ops for create_graph: the view's region is masked out of the base's
    // share (a constant mask), and gathered for the written values.
    node.set_graph_formula(
        [view_at = geometry(impl), base_at = geometry(base.impl()), size = impl.storage->size()](
            const Tensor& g, const BackwardInputs&) {
            const Tensor buffer = spread_graph(g, base_at, size);
            const Tensor outside = ones({size}, g.dtype()).scatter(0, storage_offsets(view_at), 0.0);
            return std::vector<Tensor>{gather_graph(buffer * outside, base_at), gather_graph(buffer, view_at)};
        },
        {});
    refresh_view_history(view);
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
    if (!is_grad_enabled()) return false;
    bool needed = false;
    for (const Tensor* t : inputs) {
        if (!t->defined()) continue;
        refresh_view_history(*t);
        needed = needed || t->impl().requires_grad;
    }
    return needed;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
    if (!is_grad_enabled()) return false;
    bool needed = false;
    for (const Tensor& t : inputs) {
        if (!t.defined()) continue;
        refresh_view_history(t);
        needed = needed || t.impl().requires_grad;
    }
    return needed;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
    if (!t.defined()) return nullptr;
    refresh_view_history(t);
    TensorImpl& impl = t.impl();
    if (impl.grad_fn) return impl.grad_fn;
    if (!impl.requires_grad) return nullptr;
    std::lock_guard<std::mutex> lock(autograd_mutex(&impl));
    if (auto existing = impl.grad_accumulator.lock()) return existing;
    auto acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl.grad_accumulator = acc;
    return acc;
}

FunctionNode& record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
                     bool saves_tensors) {
    auto node = std::make_shared<FunctionNode>(name, std::move(fn), saves_tensors);
    std::vector<std::shared_ptr<Node>> next;
    next.reserve(inputs.size());
    for (const Tensor& in : inputs) next.push_back(gradient_edge(in));
    node->set_next_functions(std::move(next));
    FunctionNode& result = *node;
    TensorImpl& impl = out.impl();
    impl.requires_grad = true;
    impl.grad_fn = std::move(node);
    return result;
}

FunctionNode& record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
                     bool saves_tensors, GraphBackwardFn graph_fn) {
    std::vector<SavedTensor> saved;
    saved.reserve(inputs.size());
    for (const Tensor& in : inputs) saved.emplace_back(in);
    FunctionNode& node = record(out, name, inputs, std::move(fn), saves_tensors);
    node.set_graph_formula(std::move(graph_fn), std::move(saved));
    return node;
}

FunctionNode& record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn,
                     bool saves_tensors, Differentiable) {
    FunctionNode& node = record(out, name, inputs, std::move(fn), saves_tensors);
    node.set_fast_differentiable();
    return node;
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
    const Shape& g = grad.shape();
    if (g == shape) return grad;
    const std::size_t lead = g.size() - shape.size();
    Shape dims;
    for (std::size_t i = 0; i < g.size(); ++i) {
        if (i < lead || (shape[i - lead] == 1 && g[i] != 1)) dims.push_back(static_cast<std::int64_t>(i));
    }
    Tensor reduced = dims.empty() ? grad : grad.sum(dims, true);
    return reduced.reshape(shape);
}

}  // namespace lazynn::autograd::detail

namespace lazynn {

std::vector<Tensor> Node::apply_with_graph(const Tensor& grad_output) {
    std::vector<Tensor> grads;
    {
        NoGradGuard no_grad;
        grads = apply(grad_output);
    }
    // The gradients depend on the incoming gradient and on the inputs (through saved values):
    // a later backward that reaches them must fail loudly instead of seeing constants.
    std::vector<std::shared_ptr<Node>> next{autograd::detail::gradient_edge(grad_output)};
    next.insert(next.end(), next_functions().begin(), next_functions().end());
    if (std::all_of(next.begin(), next.end(), [](const auto& edge) { return edge == nullptr; })) return grads;
    for (Tensor& g : grads) {
        if (!g.defined() || !is_floating(g.dtype())) continue;
        auto error = std::make_shared<autograd::detail::DelayedError>(name());
        error->set_next_functions(next);
        Tensor fresh = g.detach();
        fresh.impl().grad_fn = std::move(error);
        fresh.impl().requires_grad = true;
        g = std::move(fresh);
    }
    return grads;
}

}  // namespace lazynn
