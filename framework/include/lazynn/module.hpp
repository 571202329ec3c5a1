#pragma once
// Module: the base class of every layer and model.
//
// Declaring a Parameter, Buffer or child Module member registers it, in declaration order:
//
//     struct Net : Module {
//         nn::LazyLinear fc1{this, "fc1", 256};
//         nn::ReLU act{this, "act"};
//         nn::LazyLinear fc2{this, "fc2", 10};
//         Parameter temperature{this, "temperature", ones({1})};
//         Tensor forward(const Tensor& x) override { return fc2(act(fc1(x))) / temperature; }
//     };
//
// Contract (requires / ensures):
//   - Names are non-empty, contain no '.', and are unique within a module across parameters,
//     buffers and children (KeyError otherwise, with PyTorch's messages).
//   - Traversals follow PyTorch: a module's own parameters come before its children's; children
//     in registration order; dotted prefixes; shared tensors/modules listed once (by identity).
//   - state_dict() keys are PyTorch's (`fc1.weight`, `bn.running_mean`, ...); values share
//     storage with the parameters (detached), uninitialised entries are the parameters themselves.
//   - operator()(x) runs the forward pre-hooks, forward(x), then the forward hooks. A lazy
//     module's first pre-hook infers its sizes, materialises and becomes its concrete twin.
// Copy/move: copying a Module is a deep copy (new storage for every parameter and buffer) whose
// registry points into the copy; moving keeps the tensors. clone() deep-copies through a base
// pointer. Assignment is deleted: copy-construct or clone() instead.

#include <lazynn/ordered_dict.hpp>
#include <lazynn/parameter.hpp>
#include <lazynn/random.hpp>
#include <lazynn/tensor.hpp>

#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace lazynn {

using StateDict = OrderedDict<Tensor>;

/// load_state_dict's report (PyTorch's _IncompatibleKeys).
struct IncompatibleKeys {
    std::vector<std::string> missing_keys;
    std::vector<std::string> unexpected_keys;
    bool ok() const { return missing_keys.empty() && unexpected_keys.empty(); }
    /// "<All keys matched successfully>" or "_IncompatibleKeys(missing_keys=[...], unexpected_keys=[...])".
    std::string str() const;
};

/// What num_parameters() reports; it never throws, even on an uninitialised lazy model.
struct ParameterCount {
    std::int64_t total = 0;           // elements in initialised parameters
    std::int64_t trainable = 0;       // of which require grad
    std::int64_t uninitialized = 0;   // parameter tensors still waiting for their first forward
};

using ForwardPreHook = std::function<void(Module&, const std::vector<Tensor>& inputs)>;
using ForwardHook = std::function<void(Module&, const std::vector<Tensor>& inputs, const Tensor& output)>;
using LoadStateDictPreHook = std::function<void(Module&, const StateDict& state, const std::string& prefix)>;

/// Removes a hook when remove() is called (idempotent). Outliving the module is safe.
class HookHandle {
public:
    HookHandle() = default;
    void remove();
    std::uint64_t id() const { return id_; }

private:
    friend class Module;
    HookHandle(std::weak_ptr<int> alive, Module* module, std::uint64_t id) : alive_(std::move(alive)), module_(module), id_(id) {}
    std::weak_ptr<int> alive_;
    Module* module_ = nullptr;
    std::uint64_t id_ = 0;
};

class Module {
public:
    Module();
    /// A module registered as child `name` of `parent`.
    Module(Module* parent, std::string name);
    Module(const Module& other);
    Module(Module&& other) noexcept;
    Module& operator=(const Module&) = delete;
    Module& operator=(Module&&) = delete;
    virtual ~Module();

    // ---- forward ----
    /// The single-tensor forward that containers call. Modules with other signatures keep this
    /// default, which throws NotImplementedError naming the module.
    virtual Tensor forward(const Tensor& input);
    /// Runs the hooks around forward(input).
    Tensor operator()(const Tensor& input);

    // ---- registry (escape hatches for names made at run time, e.g. in loops) ----
    /// Registers (or replaces) parameter `name`; an undefined `value` registers PyTorch's None.
    Parameter& register_parameter(const std::string& name, const Tensor& value, bool requires_grad = true);
    Buffer& register_buffer(const std::string& name, const Tensor& value, bool persistent = true);
    /// Takes ownership of a child module.
    Module& register_module(const std::string& name, std::unique_ptr<Module> module);
    template <class M>
        requires std::derived_from<M, Module>
    M& register_module(const std::string& name, M module) {
        auto owned = std::make_unique<M>(std::move(module));
        M& ref = *owned;
        ref.copier_ = &copy_as<M>;
        register_module(name, std::unique_ptr<Module>(std::move(owned)));
        return ref;
    }

    // ---- traversal ----
    std::vector<std::pair<std::string, Parameter>> named_parameters(const std::string& prefix = "", bool recurse = true,
                                                                    bool remove_duplicate = true) const;
    std::vector<Parameter> parameters(bool recurse = true) const;
    std::vector<std::pair<std::string, Buffer>> named_buffers(const std::string& prefix = "", bool recurse = true,
                                                              bool remove_duplicate = true) const;
    std::vector<Buffer> buffers(bool recurse = true) const;
    /// Pre-order: self first (under `prefix`), then children recursively.
    std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "", bool remove_duplicate = true);
    std::vector<Module*> modules();
    std::vector<std::pair<std::string, Module*>> named_children();
    std::vector<Module*> children();
    /// Lookup by dotted path ("fc1.weight", "block.0"); throws AttributeError naming the module.
    Parameter& get_parameter(const std::string& path);
    Buffer& get_buffer(const std::string& path);
    Module& get_submodule(const std::string& path);

    // ---- state ----
    StateDict state_dict(const std::string& prefix = "", bool keep_vars = false) const;
    /// Copies matching entries; with strict, missing/unexpected keys throw. Size mismatches always
    /// throw. Every problem is listed in one RuntimeError, like PyTorch's.
    IncompatibleKeys load_state_dict(const StateDict& state, bool strict = true);

    // ---- modes and bulk operations ----
    Module& train(bool mode = true);
    Module& eval() { return train(false); }
    bool is_training() const { return training_; }
    /// Calls fn on every submodule, children first, then on this (post-order).
    Module& apply(const std::function<void(Module&)>& fn);
    void zero_grad(bool set_to_none = true);
    /// Converts floating parameters and buffers in place (identity kept; also before
    /// materialisation, where only the dtype the parameter will have changes).
    Module& to(Dtype dtype);
    /// Throws ValueError on an uninitialised parameter, as PyTorch does.
    Module& requires_grad_(bool requires_grad = true);
    /// A deep copy of the most-derived object.
    std::unique_ptr<Module> clone() const;

    // ---- hooks ----
    HookHandle register_forward_pre_hook(ForwardPreHook hook, bool prepend = false);
    HookHandle register_forward_hook(ForwardHook hook, bool prepend = false);
    HookHandle register_load_state_dict_pre_hook(LoadStateDictPreHook hook);
    std::size_t num_forward_pre_hooks() const { return pre_hooks_.size(); }
    std::size_t num_forward_hooks() const { return hooks_.size(); }
    std::size_t num_load_state_dict_pre_hooks() const { return load_pre_hooks_.size(); }

    // ---- description ----
    /// The class name ("Linear"; "LazyLinear" until it is initialised).
    std::string name() const;
    /// The per-module summary inside the parentheses of str(), e.g. "in_features=784, ...".
    virtual std::string extra_repr() const { return ""; }
    /// PyTorch's repr: Net(\n  (fc1): Linear(in_features=784, out_features=256, bias=True)\n ...).
    std::string str() const;
    ParameterCount num_parameters() const;
    /// Runs a no-grad forward on zeros of `input_shape` (materialising a lazy model) and returns a
    /// table of every submodule with its output shape and parameter count.
    std::string summary(const Shape& input_shape);

    // ---- lazy modules ----
    /// True until a lazy module's first forward (or a full load) finished initialising it.
    bool is_lazy() const { return lazy_.has_value(); }
    /// Whether a tensor is uninitialised (the free lazynn::is_lazy, visible inside modules too).
    static bool is_lazy(const Tensor& t) { return lazynn::is_lazy(t); }
    /// Whether any of this module's own parameters or buffers is uninitialised.
    bool has_uninitialized_params() const;
    /// Infers sizes from the forward inputs and materialises. Lazy modules override; the base
    /// throws NotImplementedError. Calling it by hand materialises without finishing the module:
    /// the next forward does that.
    virtual void initialize_parameters(const std::vector<Tensor>& inputs);
    /// One no-grad dry run on `sample`, materialising every lazy module inside.
    void initialize(const Tensor& sample);

    /// The seed this module initialises its parameters from (docs/design.md, decision 5).
    std::uint64_t seed() const { return seed_; }

protected:
    /// Runs `body` between the hooks; for modules whose forward takes several tensors.
    template <class Body>
    Tensor call_with_hooks(const std::vector<Tensor>& inputs, Body&& body) {
        run_pre_hooks(inputs);
        Tensor out = body();
        run_hooks(inputs, out);
        return out;
    }
    void run_pre_hooks(const std::vector<Tensor>& inputs);
    void run_hooks(const std::vector<Tensor>& inputs, const Tensor& output);

    /// Registers this (already constructed) module as child `name` of `parent`; layers' registering
    /// constructors delegate to their standalone constructor and then call this.
    void register_with(Module* parent, const std::string& name);
    /// Sets the class name reported by name() (built-in modules call it in their constructor).
    void set_name(std::string name) { name_ = std::move(name); }
    /// Makes this a lazy module that becomes `concrete_name` once initialised.
    void make_lazy(std::string concrete_name);
    /// Gen C loading: called when a load materialised every parameter; set inferred sizes here.
    virtual void lazy_load_finalize() {}
    /// A generator seeded with seed(): parameter initialisers draw from it.
    Generator init_generator() const { return Generator(seed_); }
    /// Subclasses whose dynamic type must survive clone() override this (or derive Cloneable).
    virtual std::unique_ptr<Module> clone_impl() const;

    template <class M>
    static std::unique_ptr<Module> copy_as(const Module& m) { return std::make_unique<M>(static_cast<const M&>(m)); }

private:
    friend class Parameter;
    friend class Buffer;
    friend class HookHandle;
    struct Registry;
    struct LazyState {
        std::string concrete_name;
        std::uint64_t pre_hook = 0;
        std::uint64_t load_hook = 0;
    };
    template <class H>
    struct HookEntry {
        std::uint64_t id;
        H fn;
    };

    void adopt_member(Parameter& p, const std::string& name);
    void adopt_member(Buffer& b, const std::string& name);
    void adopt_member(Module& m, const std::string& name);
    void release_member(const Parameter& p);
    void release_member(const Buffer& b);
    void release_member(const Module& m);
    void finish_lazy_initialization();
    void remove_hook(std::uint64_t id);
    void load_recursive(const StateDict& state, const std::string& prefix, IncompatibleKeys& keys,
                        std::vector<std::string>& errors);
    void print_into(std::string& out) const;

    std::unique_ptr<Registry> registry_;
    std::string name_;
    bool training_ = true;
    std::uint64_t seed_ = 0;
    std::optional<LazyState> lazy_;
    std::vector<HookEntry<ForwardPreHook>> pre_hooks_;
    std::vector<HookEntry<ForwardHook>> hooks_;
    std::vector<HookEntry<LoadStateDictPreHook>> load_pre_hooks_;
    std::uint64_t next_hook_id_ = 1;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    Module* parent_ = nullptr;   // set while registered as a member child
    std::string member_name_;
    std::unique_ptr<Module> (*copier_)(const Module&) = nullptr;

public:
    // Internal: registry access for containers and traversals.
    Registry& registry() const { return *registry_; }
};

/// CRTP helper: `struct Net : Cloneable<Net>` makes clone() through a base pointer return a Net.
template <class Derived, class Base = Module>
class Cloneable : public Base {
public:
    using Base::Base;

protected:
    std::unique_ptr<Module> clone_impl() const override {
        return std::make_unique<Derived>(static_cast<const Derived&>(*this));
    }
};

std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace lazynn

/// Adds the two members every built-in layer needs: the registering constructor
/// `Class(Module* parent, std::string name, args...)` (delegating to `Class(args...)`), and a
/// clone_impl() that copies the most-derived type.
#define LAZYNN_MODULE(Class)                                                                  \
public:                                                                                       \
    template <class... Args>                                                                  \
    Class(::lazynn::Module* parent, std::string name, Args&&... args)                         \
        : Class(std::forward<Args>(args)...) {                                                \
        this->register_with(parent, name);                                                    \
    }                                                                                         \
                                                                                              \
protected:                                                                                    \
    std::unique_ptr<::lazynn::Module> clone_impl() const override {                           \
        return std::make_unique<Class>(*this);                                                \
    }                                                                                         \
                                                                                              \
public:
