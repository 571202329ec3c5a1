#include "autograd/function_node.hpp"

namespace lazynn::autograd::detail {

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
            "a tensor of shape " + shape_to_list(alias_.impl().shape) + " is at version " +
            std::to_string(alias_.impl().storage->version()) + "; expected version " + std::to_string(version_) +
            " instead. Use the out-of-place op (e.g. `x = x + y` instead of `x += y`) before the tensor is used again.");
    }
    return alias_;
}

std::vector<Tensor> FunctionNode::apply(const Tensor& grad_output) {
    if (!fn_) {
        throw RuntimeError(
            "Trying to backward through the graph a second time (or directly access saved tensors after they have "
            "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
            "autograd::grad(). Specify retain_graph=true if you need to backward through the graph a second time or "
            "if you need to access saved tensors after calling backward.");
    }
    return fn_(grad_output);
}

std::vector<Tensor> AccumulateGrad::apply(const Tensor& grad_output) {
    TensorImpl& var = *variable_;
    if (grad_output.shape() != var.shape) {
        throw ShapeError("AccumulateGrad: gradient of shape " + shape_to_list(grad_output.shape()) +
                         " does not match the leaf's shape " + shape_to_list(var.shape));
    }
    if (!var.grad.defined()) {
        var.grad = grad_output.to(var.dtype).clone();
    } else {
        var.grad.add_(grad_output);
    }
    if (!var.post_accumulate_hooks.empty()) {
        const auto hooks = var.post_accumulate_hooks;  // a hook may remove itself
        const Tensor leaf(variable_);
        for (const auto& [id, hook] : hooks) hook(leaf);
    }
    return {};
}

bool needs_grad(std::initializer_list<const Tensor*> inputs) {
    if (!is_grad_enabled()) return false;
    for (const Tensor* t : inputs) {
        if (t->defined() && t->impl().requires_grad) return true;
    }
    return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
    if (!is_grad_enabled()) return false;
    for (const Tensor& t : inputs) {
        if (t.defined() && t.impl().requires_grad) return true;
    }
    return false;
}

std::shared_ptr<Node> gradient_edge(const Tensor& t) {
    if (!t.defined()) return nullptr;
    TensorImpl& impl = t.impl();
    if (impl.grad_fn) return impl.grad_fn;
    if (!impl.requires_grad) return nullptr;
    if (auto existing = impl.grad_accumulator.lock()) return existing;
    auto acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl.grad_accumulator = acc;
    return acc;
}

void record(Tensor& out, const char* name, const std::vector<Tensor>& inputs, BackwardFn fn, bool saves_tensors) {
    auto node = std::make_shared<FunctionNode>(name, std::move(fn), saves_tensors);
    std::vector<std::shared_ptr<Node>> next;
    next.reserve(inputs.size());
    for (const Tensor& in : inputs) next.push_back(gradient_edge(in));
    node->set_next_functions(std::move(next));
    TensorImpl& impl = out.impl();
    impl.requires_grad = true;
    impl.grad_fn = std::move(node);
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
