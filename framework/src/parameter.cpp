// Parameter, Buffer and their uninitialised states.
#include "module_registry.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

#include <ostream>

namespace lazynn {
namespace {

/// A new leaf handle sharing `data`'s storage; uninitialised data keeps its own impl (it has no
/// storage to share, and its identity is the point).
Tensor leaf_alias(const Tensor& data, bool requires_grad) {
    if (!data.defined()) return Tensor();
    TensorImpl& src = data.impl();
    std::shared_ptr<TensorImpl> impl;
    if (src.uninitialized()) {
        impl = data.impl_ptr();
    } else {
        impl = TensorImpl::alias(src, src.shape, src.strides, src.offset);
        impl->is_view = false;
    }
    if (requires_grad && !is_floating(impl->dtype)) {
        throw RuntimeError("Only Tensors of floating point and complex dtype can require gradients (got " +
                           dtype_name(impl->dtype) + ")");
    }
    impl->requires_grad = requires_grad;
    return Tensor(impl);
}

std::shared_ptr<TensorImpl> uninitialized_impl(TensorState state, bool requires_grad, Dtype dtype) {
    auto impl = std::make_shared<TensorImpl>();
    impl->state = state;
    impl->dtype = dtype;
    impl->shape = {0};
    impl->strides = {1};
    impl->requires_grad = requires_grad;
    return impl;
}

void materialize_impl(const Tensor& t, const Shape& shape, std::optional<Dtype> dtype, const char* kind) {
    TensorImpl& impl = t.impl();
    if (!impl.uninitialized()) {
        throw AttributeError(std::string("'") + kind +
                             "' object has no attribute 'materialize' (it is already initialized)");
    }
    const Dtype d = dtype.value_or(impl.dtype);
    auto fresh = TensorImpl::allocate(shape, d);
    impl.storage = fresh->storage;
    impl.shape = fresh->shape;
    impl.strides = fresh->strides;
    impl.offset = 0;
    impl.dtype = d;
    impl.state = TensorState::Initialized;
}

}  // namespace

namespace detail {

Tensor deep_copy_tensor(const Tensor& t) {
    if (!t.defined()) return Tensor();
    const TensorImpl& impl = t.impl();
    if (impl.uninitialized()) {
        return Tensor(uninitialized_impl(impl.state, impl.requires_grad, impl.dtype));
    }
    Tensor copy;
    {
        NoGradGuard no_grad;
        copy = t.clone();
    }
    copy.impl().requires_grad = impl.requires_grad;
    return copy;
}

}  // namespace detail

// ---- Parameter ----

Parameter::Parameter(const Tensor& data, bool requires_grad) : Tensor(leaf_alias(data, requires_grad)) {}

Parameter::Parameter(Module* owner, const std::string& name, const Tensor& data, bool requires_grad)
    : Tensor(leaf_alias(data, requires_grad)) {
    if (owner == nullptr) throw ValueError("Parameter '" + name + "': the owner module is null");
    owner->adopt_member(*this, name);
}

Parameter::Parameter(const Parameter& other) : Tensor(other) {
    if (!other.owner_) return;
    if (Module* target = detail::copy_target(other.owner_, &other, this)) {
        Tensor::operator=(detail::deep_copy_tensor(other));
        target->adopt_member(*this, other.name_);
    }
}

// Moving shares the tensor rather than emptying the source: a moved-from member is still listed by
// its old module's registry, which must keep seeing a whole tensor.
// NOLINTNEXTLINE(performance-move-constructor-init)
Parameter::Parameter(Parameter&& other) noexcept : Tensor(static_cast<const Tensor&>(other)) {
    if (!other.owner_) return;
    if (Module* target = detail::copy_target(other.owner_, &other, this)) target->adopt_member(*this, other.name_);
}

Parameter& Parameter::operator=(const Parameter& other) {
    if (this == &other) return *this;
    Tensor::operator=(static_cast<const Tensor&>(other));
    return *this;
}

Parameter& Parameter::operator=(Parameter&& other) noexcept {
    Tensor::operator=(static_cast<const Tensor&>(other));
    return *this;
}

Parameter::~Parameter() {
    if (owner_) owner_->release_member(*this);
}

void Parameter::materialize(const Shape& shape, std::optional<Dtype> dtype) {
    materialize_impl(*this, shape, dtype, "Parameter");
}

Parameter Parameter::deep_copy() const {
    if (!defined()) return Parameter();
    return Parameter(detail::deep_copy_tensor(*this), requires_grad());
}

std::string Parameter::str() const {
    if (!defined()) return "None";
    if (is_uninitialized()) return Tensor::str();
    return "Parameter containing:\n" + Tensor::str();
}

std::ostream& operator<<(std::ostream& os, const Parameter& p) { return os << p.str(); }

UninitializedParameter::UninitializedParameter(bool requires_grad, Dtype dtype)
    : Parameter(Tensor(uninitialized_impl(TensorState::UninitializedParameter, requires_grad, dtype)), requires_grad) {}

// ---- Buffer ----

Buffer::Buffer(const Tensor& data) : Tensor(data) {}

Buffer::Buffer(Module* owner, const std::string& name, const Tensor& data, bool persistent)
    : Tensor(data), persistent_(persistent) {
    if (owner == nullptr) throw ValueError("Buffer '" + name + "': the owner module is null");
    owner->adopt_member(*this, name);
}

Buffer::Buffer(const Buffer& other) : Tensor(other), persistent_(other.persistent_) {
    if (!other.owner_) return;
    if (Module* target = detail::copy_target(other.owner_, &other, this)) {
        Tensor::operator=(detail::deep_copy_tensor(other));
        target->adopt_member(*this, other.name_);
    }
}

// Shares the tensor, as Parameter's move does.
// NOLINTNEXTLINE(performance-move-constructor-init)
Buffer::Buffer(Buffer&& other) noexcept : Tensor(static_cast<const Tensor&>(other)), persistent_(other.persistent_) {
    if (!other.owner_) return;
    if (Module* target = detail::copy_target(other.owner_, &other, this)) target->adopt_member(*this, other.name_);
}

Buffer& Buffer::operator=(const Buffer& other) {
    if (this == &other) return *this;
    Tensor::operator=(static_cast<const Tensor&>(other));
    return *this;
}

Buffer& Buffer::operator=(Buffer&& other) noexcept {
    Tensor::operator=(static_cast<const Tensor&>(other));
    return *this;
}

Buffer::~Buffer() {
    if (owner_) owner_->release_member(*this);
}

void Buffer::materialize(const Shape& shape, std::optional<Dtype> dtype) {
    materialize_impl(*this, shape, dtype, "Tensor");
}

UninitializedBuffer::UninitializedBuffer(bool requires_grad, Dtype dtype)
    : Buffer(Tensor(uninitialized_impl(TensorState::UninitializedBuffer, requires_grad, dtype))) {}

}  // namespace lazynn
