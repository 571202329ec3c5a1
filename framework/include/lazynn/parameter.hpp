#pragma once
// Parameter, Buffer and their uninitialised states.
//
// Parameter is a Tensor handle that is always a leaf and requires grad by default (even under
// NoGradGuard). Declaring one as a member of a Module registers it under its name:
//
//     struct Net : Module {
//         Parameter scale{this, "scale", ones({1})};
//     };
//
// Contract:
//   - Parameter(data) shares data's storage, detached from its graph.
//   - UninitializedParameter is a Parameter in the uninitialised state (docs/design.md, decision 2):
//     only size() ([0]), dtype queries, to(dtype), copy_ and is_floating_point work; shape()
//     throws RuntimeError, every other op throws ValueError "Attempted to use an uninitialized
//     parameter in <op>. ...". materialize(shape) allocates in place, so every handle to the same
//     parameter (an optimizer's, a parameter list's) sees the real tensor afterwards.
//   - Buffers are the same for state that is not trained (running statistics); a non-persistent
//     buffer is left out of state_dict().
// Copy/move: copying a handle shares the tensor. A registered member copied as part of copying
// its Module becomes a deep copy registered with the new Module (see module.hpp); copied on its
// own it is a plain, unregistered handle. Assignment rebinds the handle and keeps the
// registration, so `fc.weight = Parameter(t)` updates what the registry reports.

#include <lazynn/tensor.hpp>

#include <optional>
#include <string>

namespace lazynn {

class Module;

/// A trainable tensor: always a leaf, requires grad by default (see the file comment).
///
/// Example:
///     Parameter scale{this, "scale", ones({1})};   // a member of a Module subclass: registered as "scale"
///     Parameter w(randn({3, 4}));                  // free-standing, requires grad
class Parameter : public Tensor {
public:
    /// An undefined parameter (PyTorch's `None` entry).
    Parameter() = default;
    explicit Parameter(const Tensor& data, bool requires_grad = true);
    /// Declares a member parameter of `owner` named `name` (registers it).
    Parameter(Module* owner, const std::string& name, const Tensor& data = Tensor(), bool requires_grad = true);

    Parameter(const Parameter& other);
    Parameter(Parameter&& other) noexcept;
    Parameter& operator=(const Parameter& other);
    Parameter& operator=(Parameter&& other) noexcept;
    ~Parameter();

    /// Allocates the storage of an uninitialised parameter in place (values uninitialised: the
    /// owning module's reset_parameters() fills them). Throws AttributeError when already
    /// initialised. The dtype defaults to the one the uninitialised parameter carries.
    void materialize(const Shape& shape, std::optional<Dtype> dtype = std::nullopt);

    /// PyTorch's copy.deepcopy(p): new storage with equal values and the same requires_grad (an
    /// uninitialised parameter gives a new, independent uninitialised one).
    Parameter deep_copy() const;

    /// "Parameter containing:\ntensor(...)", or "<UninitializedParameter>".
    std::string str() const;

    /// The Module this member is registered with (null for a free-standing handle).
    Module* owner() const { return owner_; }

private:
    friend class Module;
    Module* owner_ = nullptr;
    std::string name_;
};

/// A Parameter in the uninitialised state; see Parameter::materialize.
///
/// Example:
///     Parameter weight{this, "weight", UninitializedParameter()};
///     weight.materialize({16, 3});   // once the size is known; the values stay unset until filled
class UninitializedParameter : public Parameter {
public:
    explicit UninitializedParameter(bool requires_grad = true, Dtype dtype = kFloat32);
};

/// Module state that is not trained (running statistics); see the file comment.
///
/// Example:
///     Buffer running_mean{this, "running_mean", zeros({16})};
///     Buffer scratch{this, "scratch", zeros({16}), /*persistent=*/false};   // left out of state_dict()
class Buffer : public Tensor {
public:
    Buffer() = default;
    explicit Buffer(const Tensor& data);
    /// Declares a member buffer of `owner` (registers it; non-persistent buffers stay out of
    /// state_dict()).
    Buffer(Module* owner, const std::string& name, const Tensor& data = Tensor(), bool persistent = true);

    Buffer(const Buffer& other);
    Buffer(Buffer&& other) noexcept;
    Buffer& operator=(const Buffer& other);
    Buffer& operator=(Buffer&& other) noexcept;
    ~Buffer();

    void materialize(const Shape& shape, std::optional<Dtype> dtype = std::nullopt);
    Module* owner() const { return owner_; }

private:
    friend class Module;
    Module* owner_ = nullptr;
    std::string name_;
    bool persistent_ = true;
};

/// A Buffer in the uninitialised state (requires_grad false by default).
///
/// Example:
///     Buffer running_var{this, "running_var", UninitializedBuffer()};
///     running_var.materialize({16});
class UninitializedBuffer : public Buffer {
public:
    explicit UninitializedBuffer(bool requires_grad = false, Dtype dtype = kFloat32);
};

/// True while `t` is an UninitializedParameter/UninitializedBuffer (PyTorch's is_lazy).
inline bool is_lazy(const Tensor& t) { return t.defined() && t.is_uninitialized(); }

std::ostream& operator<<(std::ostream& os, const Parameter& p);

}  // namespace lazynn
