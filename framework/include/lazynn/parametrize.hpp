#pragma once
// Parametrizations (PyTorch's torch.nn.utils.parametrize): a module's parameter or buffer computed,
// on every call, by a module from "original" tensors that are what is actually trained and saved.
//
//     struct Symmetric : Cloneable<Symmetric, parametrize::Parametrization> {
//         Tensor forward(const Tensor& x) override { return x.triu() + x.triu(1).transpose(-1, -2); }  // [n, n]
//     };
//     nn::Linear layer(4, 4);
//     parametrize::register_parametrization(layer, "weight", Symmetric());
//     // layer.weight is now symmetric at every call; named_parameters() lists
//     // "bias" and "parametrizations.weight.original" (PyTorch's keys).
//
// Contract (requires / ensures), following PyTorch 1.13 unless noted:
//   - register_parametrization moves the tensor into `parametrizations.<name>.original` (the same
//     tensor object, so an optimizer holding it keeps training it), or into `original0`,
//     `original1`, ... when the parametrization's right_inverse returns several; the module is
//     renamed "Parametrized<Name>". Unless `unsafe`, the parametrized value must keep the tensor's
//     dtype and shape (ValueError with PyTorch's message).
//   - The module's member (`layer.weight`) holds the parametrized value: it is recomputed when the
//     module is called (after its forward pre-hooks), so forward reads it as before. Calling
//     forward() directly, bypassing operator()/call(), reads the value of the previous call.
//   - On a tensor still uninitialised (a lazy module before its first forward) the registration
//     is kept pending and applied in order on the first call after the tensor materialises;
//     until then the module's keys are the unparametrized ones (docs/design.md, decision 25).
//     PyTorch refuses this case (weight_norm / spectral_norm raise ValueError).
//   - Within a Cached scope each parametrized tensor is computed once per ParametrizationList.

#include <lazynn/module.hpp>

#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace lazynn::parametrize {

/// The optional base of a parametrization. Any Module works as one (its call() maps the originals
/// to the tensor: forward(const Tensor&) for one original, a TypedModule or a call() override for
/// several); deriving this adds PyTorch's right_inverse and a hook that sees the tensor first.
///
/// Example:
///     struct Doubled : Cloneable<Doubled, parametrize::Parametrization> {
///         Tensor forward(const Tensor& x) override { return x * 2.0; }             // any shape
///         std::optional<std::vector<Tensor>> right_inverse(const Tensor& value) override {
///             return std::vector<Tensor>{value / 2.0};
///         }
///     };
class Parametrization : public Module {
public:
    using Module::Module;

    /// Called once, before right_inverse, with the tensor being parametrized (its current value, or
    /// the parametrized value when stacking on another parametrization): a parametrization whose
    /// state depends on the tensor's shape (spectral norm's vectors) creates it here.
    ///   requires: `value` is initialised.  ensures: this module can map originals of it.
    virtual void attach(const Tensor& value);
    /// PyTorch's right_inverse: originals that this parametrization maps to `value` (one or
    /// several tensors), or std::nullopt when it has none (the default). At registration the
    /// originals are `value` itself when there is none; assigning through
    /// ParametrizationList::right_inverse needs one (RuntimeError otherwise).
    ///   ensures: for `value` in the parametrization's image, call(*right_inverse(value)) == value.
    virtual std::optional<std::vector<Tensor>> right_inverse(const Tensor& value);
};

/// The parametrizations of one tensor, in order, and its originals (PyTorch's ParametrizationList;
/// the module `parametrizations.<name>`): children "0", "1", ... and parameters or buffers
/// `original` or `original0`, `original1`, ....
class ParametrizationList final : public Cloneable<ParametrizationList> {
public:
    /// Attaches `first` to `original` (the registered Parameter or Buffer) and makes the originals
    /// from its right_inverse. Used by register_parametrization.
    ParametrizationList(std::unique_ptr<Module> first, const Tensor& original, bool is_parameter, bool unsafe);
    ParametrizationList(const ParametrizationList& other);

    /// The parametrized tensor: the first parametrization on the originals, then each following one
    /// on the result (PyTorch's ParametrizationList.forward()). Within a Cached scope, computed once.
    Tensor value();
    /// Sets the originals so that value() gives `value` (PyTorch's right_inverse, which a property
    /// assignment `module.weight = value` calls): each parametrization's right_inverse in reverse
    /// order, under no_grad, written into the originals in place.
    ///   requires: every parametrization has a right_inverse (RuntimeError naming it otherwise);
    ///             the results keep the originals' count and dtypes (ValueError otherwise).
    void right_inverse(const Tensor& value);
    /// Appends `next`, which maps the current value to the new one (register_parametrization on a
    /// tensor already parametrized).
    void append(std::unique_ptr<Module> next, bool unsafe);

    std::size_t size() const { return num_registered_children(); }
    Module& at(std::size_t index);
    /// One original (`original`) rather than several (`original0`, ...).
    bool is_tensor() const { return is_tensor_; }
    std::size_t num_originals() const { return num_originals_; }
    /// `original`, or `original<index>` when there are several.
    Tensor original(std::size_t index = 0) const;
    bool unsafe() const { return unsafe_; }

private:
    friend struct lazynn::detail::ParametrizeAccess;
    bool is_tensor_ = true;
    std::size_t num_originals_ = 1;
    bool unsafe_ = false;
    std::uint64_t id_;  // the key of this list's cached value (Cached)
    // The value the registration's check computed: the member's first value, so a stateful
    // parametrization (spectral norm's power step) runs once at registration, as in PyTorch.
    Tensor first_value_;
};

/// Registers `parametrization` on tensor `tensor_name` of `module` (see the file comment).
///   requires: `tensor_name` names a parameter, a buffer or a parametrized tensor of `module`
///             (ValueError with PyTorch's message otherwise); unless `unsafe`, the parametrization
///             keeps the dtype and shape (ValueError). A parametrization given by pointer records
///             its type for copies (Cloneable), as container children do.
///   ensures:  returns `module`; the tensor is computed by the parametrization from the next call
///             on (immediately for `module`'s member value, unless the tensor is uninitialised).
Module& register_parametrization(Module& module, const std::string& tensor_name,
                                 std::unique_ptr<Module> parametrization, bool unsafe = false);
/// The same, taking the parametrization by value (its type recorded for copies).
template <class P>
requires std::derived_from<std::remove_cvref_t<P>, Module> Module& register_parametrization(
    Module& module, const std::string& tensor_name, P&& parametrization, bool unsafe = false);

/// Whether `module` has a parametrization on `tensor_name` (on any tensor when empty), pending
/// ones on uninitialised tensors included.
bool is_parametrized(const Module& module, const std::string& tensor_name = "");

/// Removes the parametrizations of `tensor_name`: with `leave_parametrized` the tensor keeps its
/// current parametrized value (written into the same tensor object as `original`, so optimizers
/// keep it), otherwise it gets its original back. The tensor is registered again (after the
/// module's other tensors, as in PyTorch) and the module takes its own name back when no
/// parametrization is left.
///   requires: is_parametrized(module, tensor_name) (ValueError otherwise); leave_parametrized
///             when there are several originals (ValueError otherwise).
Module& remove_parametrizations(Module& module, const std::string& tensor_name, bool leave_parametrized = true);

/// `module.parametrizations[tensor_name]`: its list, to read the originals or assign through
/// right_inverse.
///   requires: the tensor is parametrized and not pending (ValueError otherwise).
ParametrizationList& parametrizations(Module& module, const std::string& tensor_name);

/// The module's name without the "Parametrized" prefix (PyTorch's type_before_parametrizations).
std::string type_before_parametrizations(const Module& module);

/// In its scope (thread-local, nestable) each parametrized tensor is computed once and reused:
/// for a module called several times per step, or a weight read by several modules
/// (PyTorch's `with parametrize.cached():`).
class Cached {
public:
    Cached();
    ~Cached();
    Cached(const Cached&) = delete;
    Cached& operator=(const Cached&) = delete;
};

}  // namespace lazynn::parametrize

namespace lazynn::detail {

/// The parametrization machinery's access to Module's registry (module.cpp calls refresh).
struct ParametrizeAccess {
    /// Applies pending parametrizations whose tensor has materialised, then writes every
    /// parametrized tensor's value into its member.
    static void refresh(Module& module);
    static Module& register_parametrization(Module& module, const std::string& tensor_name,
                                            std::unique_ptr<Module> parametrization, bool unsafe);
    static bool is_parametrized(const Module& module, const std::string& tensor_name);
    static Module& remove_parametrizations(Module& module, const std::string& tensor_name, bool leave_parametrized);
    static parametrize::ParametrizationList& list(Module& module, const std::string& tensor_name);
    /// Registers `tensor` itself (the same tensor object, not a leaf alias) as `name` of `module`.
    static void register_same_tensor(Module& module, const std::string& name, const Tensor& tensor, bool is_parameter);
    template <class P>
    static void record_clone_type(P& module) noexcept {
        static_cast<Module&>(module).template record_clone_type<P, P>();
    }
};

}  // namespace lazynn::detail

namespace lazynn::parametrize {

template <class P>
requires std::derived_from<std::remove_cvref_t<P>, Module> Module& register_parametrization(
    Module& module, const std::string& tensor_name, P&& parametrization, bool unsafe) {
    using Type = std::remove_cvref_t<P>;
    auto owned = std::make_unique<Type>(std::forward<P>(parametrization));
    detail::ParametrizeAccess::record_clone_type(*owned);  // known here even when Type records none
    return register_parametrization(module, tensor_name, std::unique_ptr<Module>(std::move(owned)), unsafe);
}

}  // namespace lazynn::parametrize
