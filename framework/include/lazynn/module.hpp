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
//     module's (LazyModule, <lazynn/lazy.hpp>) first pre-hook infers its sizes, materialises and
//     becomes its concrete twin.
// Copy/move: copying a Module is a deep copy (new storage for every parameter and buffer) whose
// registry points into the copy, with a seed of its own (seed()); moving keeps the tensors and seed. clone() deep-copies through a base
// pointer. Assignment is deleted: copy-construct or clone() instead.

#include <lazynn/hook_handle.hpp>
#include <lazynn/ordered_dict.hpp>
#include <lazynn/parameter.hpp>
#include <lazynn/random.hpp>
#include <lazynn/tensor.hpp>
#include <lazynn/tensor_structure.hpp>

#include <atomic>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

namespace lazynn {

class Module;
namespace detail {
template <class Copy, class Self>
class CloneRecord;
struct ParametrizeAccess;
}  // namespace detail

using StateDict = OrderedDict<Tensor>;

/// load_state_dict's report (PyTorch's _IncompatibleKeys).
///
/// Example:
///     IncompatibleKeys keys = model.load_state_dict(state, /*strict=*/false);
///     if (!keys.ok()) std::cerr << keys.str() << '\n';
struct IncompatibleKeys {
    std::vector<std::string> missing_keys;
    std::vector<std::string> unexpected_keys;
    bool ok() const { return missing_keys.empty() && unexpected_keys.empty(); }
    /// "<All keys matched successfully>" or "_IncompatibleKeys(missing_keys=[...], unexpected_keys=[...])".
    std::string str() const;
};

/// What num_parameters() reports; it never throws, even on an uninitialised lazy model.
///
/// Example:
///     ParameterCount count = model.num_parameters();   // count.total, count.trainable, count.uninitialized
struct ParameterCount {
    std::int64_t total = 0;          // elements in initialised parameters
    std::int64_t trainable = 0;      // of which require grad
    std::int64_t uninitialized = 0;  // parameter tensors still waiting for their first forward
};

// Forward hooks observe (return void) or, like PyTorch's hooks returning a value instead of None,
// replace: a pre-hook returning std::optional<std::vector<Tensor>> (or std::optional<Tensor> for a
// one-input call) replaces the inputs the next hooks and forward see; a forward hook returning
// std::optional<std::vector<Tensor>> (or std::optional<Tensor> for a one-output call) replaces the
// outputs. std::nullopt keeps the current value. Hooks see a call's inputs and outputs flat, as
// lists of tensors (flatten(), <lazynn/tensor_structure.hpp>): a forward returning a struct of three
// tensors has three outputs. A hook taking one `const Tensor& output` refuses a call with several.
using ForwardPreHook = std::function<void(Module&, const std::vector<Tensor>& inputs)>;
using ForwardHook = std::function<void(Module&, const std::vector<Tensor>& inputs, const Tensor& output)>;
using ReplacingForwardPreHook =
    std::function<std::optional<std::vector<Tensor>>(Module&, const std::vector<Tensor>& inputs)>;
using ReplacingForwardHook = std::function<std::optional<std::vector<Tensor>>(
    Module&, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs)>;
using LoadStateDictPreHook = std::function<void(Module&, const StateDict& state, const std::string& prefix)>;

/// The base class of every layer and model (see the file comment).
///
/// Example:
///     struct Net : Module {
///         nn::Linear fc{this, "fc", 784, 10};
///         Tensor forward(const Tensor& x) override { return fc(x.flatten(1)); }   // [N, 1, 28, 28] -> [N, 10]
///     };
class Module {
public:
    Module();
    /// A module registered as child `name` of `parent`.
    Module(Module* parent, const std::string& name);
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
    /// The module called on its flat inputs (hooks included), returning its flat outputs: how
    /// containers, initialize(), summary() and DistributedDataParallel call a module of any
    /// signature (TypedModule, <lazynn/typed_module.hpp>, overrides it).
    ///   requires: the inputs the module's forward takes, flattened (one for the base: TypeError
    ///             naming the module and the count otherwise).
    ///   ensures:  the outputs of the same call through operator(), flattened.
    virtual std::vector<Tensor> call(const std::vector<Tensor>& inputs);

    // ---- registry (escape hatches for names made at run time, e.g. in loops) ----
    /// Registers (or replaces) parameter `name`; an undefined `value` registers PyTorch's None.
    Parameter& register_parameter(const std::string& name, const Tensor& value, bool requires_grad = true);
    Buffer& register_buffer(const std::string& name, const Tensor& value, bool persistent = true);
    /// Takes ownership of a child module.
    Module& register_module(const std::string& name, std::unique_ptr<Module> module);
    template <class M>
    requires std::derived_from<M, Module> M& register_module(const std::string& name, M module) {
        auto owned = std::make_unique<M>(std::move(module));
        M& ref = *owned;
        static_cast<Module&>(ref).record_clone_type<M, M>();  // known here even when M records none
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
    /// Pre-order: self first (under `prefix`), then children recursively. Each traversal has a
    /// const overload giving const modules.
    std::vector<std::pair<std::string, Module*>> named_modules(const std::string& prefix = "",
                                                               bool remove_duplicate = true);
    std::vector<std::pair<std::string, const Module*>> named_modules(const std::string& prefix = "",
                                                                     bool remove_duplicate = true) const;
    std::vector<Module*> modules();
    std::vector<const Module*> modules() const;
    /// The direct children in registration order, each once.
    std::vector<std::pair<std::string, Module*>> named_children();
    std::vector<std::pair<std::string, const Module*>> named_children() const;
    std::vector<Module*> children();
    std::vector<const Module*> children() const;
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
    /// A deep copy of the most-derived object, through the one record of that type (see
    /// Cloneable): made by Cloneable<T>, LAZYNN_MODULE(T), Member<T> or registration by value.
    ///   requires: a type was recorded, and it is this object's own type (NotImplementedError
    ///             naming both otherwise: a copy as a base class would silently drop behaviour).
    ///   ensures:  what T's copy constructor makes: new storage for every parameter and buffer,
    ///             a seed of its own, unregistered.
    std::unique_ptr<Module> clone() const;

    // ---- hooks ----
    /// `hook(module, inputs)` returning void, std::optional<std::vector<Tensor>> or
    /// std::optional<Tensor> (see ReplacingForwardPreHook).
    template <class F>
    requires std::invocable < F&, Module&, const std::vector<Tensor>
    & > HookHandle register_forward_pre_hook(F hook, bool prepend = false) {
        using R = std::invoke_result_t<F&, Module&, const std::vector<Tensor>&>;
        using Inputs = std::optional<std::vector<Tensor>>;
        if constexpr (std::is_void_v<R>) {
            return add_forward_pre_hook(
                [h = std::move(hook)](Module& m, const std::vector<Tensor>& in) mutable -> Inputs {
                    h(m, in);
                    return std::nullopt;
                },
                prepend);
        } else if constexpr (std::is_convertible_v<R, Inputs>) {
            return add_forward_pre_hook(ReplacingForwardPreHook(std::move(hook)), prepend);
        } else {
            static_assert(
                std::is_convertible_v<R, std::optional<Tensor>>,
                "a forward pre-hook returns void, std::optional<std::vector<Tensor>> or std::optional<Tensor>");
            return add_forward_pre_hook(
                [h = std::move(hook)](Module& m, const std::vector<Tensor>& in) mutable -> Inputs {
                    std::optional<Tensor> x = h(m, in);
                    if (!x) return std::nullopt;
                    return std::vector<Tensor>{*x};
                },
                prepend);
        }
    }
    /// `hook(module, inputs, outputs)` with `const std::vector<Tensor>& outputs` returning void or
    /// std::optional<std::vector<Tensor>> (replacement outputs, as many); or
    /// `hook(module, inputs, output)` with `const Tensor& output` returning void or
    /// std::optional<Tensor>, for modules returning one tensor.
    template <class F>
    requires std::invocable < F&, Module&, const std::vector<Tensor>
    &, const std::vector<Tensor>& > HookHandle register_forward_hook(F hook, bool prepend = false) {
        using R = std::invoke_result_t<F&, Module&, const std::vector<Tensor>&, const std::vector<Tensor>&>;
        using Outputs = std::optional<std::vector<Tensor>>;
        if constexpr (std::is_void_v<R>) {
            return add_forward_hook(
                [h = std::move(hook)](Module& m, const std::vector<Tensor>& in,
                                      const std::vector<Tensor>& out) mutable -> Outputs {
                    h(m, in, out);
                    return std::nullopt;
                },
                prepend);
        } else {
            static_assert(std::is_convertible_v<R, Outputs>,
                          "a forward hook over all outputs returns void or std::optional<std::vector<Tensor>>");
            return add_forward_hook(ReplacingForwardHook(std::move(hook)), prepend);
        }
    }
    template <class F>
    requires(std::invocable<F&, Module&, const std::vector<Tensor>&, const Tensor&> &&
             !std::invocable<F&, Module&, const std::vector<Tensor>&, const std::vector<Tensor>&>) HookHandle
        register_forward_hook(F hook, bool prepend = false) {
        using R = std::invoke_result_t<F&, Module&, const std::vector<Tensor>&, const Tensor&>;
        using Outputs = std::optional<std::vector<Tensor>>;
        static_assert(std::is_void_v<R> || std::is_convertible_v<R, std::optional<Tensor>>,
                      "a forward hook returns void or std::optional<Tensor>");
        return add_forward_hook(
            [h = std::move(hook)](Module& m, const std::vector<Tensor>& in,
                                  const std::vector<Tensor>& out) mutable -> Outputs {
                if (out.size() != 1) m.refuse_single_output_hook(out.size());
                if constexpr (std::is_void_v<R>) {
                    h(m, in, out[0]);
                    return std::nullopt;
                } else {
                    std::optional<Tensor> y = h(m, in, out[0]);
                    if (!y) return std::nullopt;
                    return std::vector<Tensor>{std::move(*y)};
                }
            },
            prepend);
    }
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
    /// The same table from a dry run (initialize()) on sample inputs, for modules whose forward takes
    /// several tensors or structures of them: `model.summary(images, captions)`. A submodule
    /// returning several tensors lists every output's shape.
    template <class... Samples>
    requires(sizeof...(Samples) >= 1 && (TensorStructure<Samples> && ...)) std::string
        summary(const Samples&... samples) {
        return summary_of(describe_inputs(flatten(samples...)), [&] { initialize(samples...); });
    }

    // ---- lazy modules (the life cycle itself is LazyModule's, <lazynn/lazy.hpp>) ----
    /// True until a lazy module's first forward (or a full load) finished initialising it; false
    /// for every module that does not derive LazyModule.
    bool is_lazy() const;
    /// Whether a tensor is uninitialised (the free lazynn::is_lazy, visible inside modules too).
    static bool is_lazy(const Tensor& t) { return lazynn::is_lazy(t); }
    /// Whether any of this module's own parameters or buffers is uninitialised.
    bool has_uninitialized_params() const;
    /// One no-grad dry run on `sample`, materialising every lazy module inside, with no other
    /// effect: it runs in eval mode (no BatchNorm statistics or counters move), then restores
    /// every submodule's own train/eval flag, the buffers that were already initialised and the
    /// global generator. The parameters get the values a first forward would give them: lazy
    /// modules draw from their own seed, not from the global stream (docs/lazy-modules.md).
    void initialize(const Tensor& sample);
    /// The same dry run for a forward of several inputs (tensors or structures of them), called
    /// through call(): `model.initialize(images, captions)`. TypedModule calls its typed forward.
    template <class... Samples>
    requires(sizeof...(Samples) >= 1 && (TensorStructure<Samples> && ...)) void initialize(const Samples&... samples) {
        dry_run([&] { call(flatten(samples...)); });
    }

    /// The seed this module initialises its parameters from (docs/design.md, decision 5). A copy
    /// (copy constructor, clone(), a container's deep copy) gets its own seed, derived from the
    /// source's seed and how many copies the source has made, so copies of an uninitialised lazy
    /// module initialise independently while the same manual_seed still gives the same model.
    /// A module draws its seed when it first needs one (registering its first parameter, or this
    /// call): modules without parameters never draw, so inserting a ReLU shifts nothing.
    std::uint64_t seed() const;

protected:
    /// Runs `body(inputs)` between the hooks, for modules whose forward takes several tensors:
    /// `body` receives the inputs after the pre-hooks (which may have replaced them), and the
    /// forward hooks may replace what it returns. A body taking no arguments still works, but then
    /// a pre-hook that replaces the inputs is refused (the body would not see the replacement).
    template <class Body>
    Tensor call_with_hooks(const std::vector<Tensor>& inputs, Body&& body) {
        std::optional<std::vector<Tensor>> replaced = run_pre_hooks(inputs);
        const std::vector<Tensor>& in = replaced ? *replaced : inputs;
        Tensor out;
        if constexpr (std::is_invocable_v<Body&, const std::vector<Tensor>&>) {
            out = body(in);
        } else {
            if (replaced) refuse_replaced_inputs();
            out = body();
        }
        return run_hooks(in, std::move(out));
    }
    /// The pre-hooks in order; the replaced inputs when any hook replaced them.
    std::optional<std::vector<Tensor>> run_pre_hooks(const std::vector<Tensor>& inputs);
    /// The forward hooks in order; the output, possibly replaced.
    Tensor run_hooks(const std::vector<Tensor>& inputs, Tensor output);
    /// The forward hooks in order over several outputs; the outputs, possibly replaced (a hook
    /// must return as many: ValueError naming the module otherwise).
    std::vector<Tensor> run_hooks(const std::vector<Tensor>& inputs, std::vector<Tensor> outputs);
    /// Whether any forward hook is registered (a typed call skips flattening its result otherwise).
    bool has_forward_hooks() const { return !hooks_.empty(); }

    /// initialize()'s dry run around `pass`: eval mode, no grad; modes, initialised buffers and the
    /// global generator restored afterwards, on failure too.
    void dry_run(const std::function<void()>& pass);
    /// summary()'s table around a dry run `pass` (which must run the module once).
    std::string summary_of(const std::string& inputs_description, const std::function<void()>& pass);
    /// "[2, 3], [2, 5]": the shapes of `inputs` for summary()'s last lines.
    static std::string describe_inputs(const std::vector<Tensor>& inputs);

    /// Layers call this first in forward: PyTorch refuses an input whose dtype differs from the
    /// parameters' (float64 or int64 into a float32 layer), so this throws DtypeError naming the
    /// module and both dtypes, with PyTorch's wording (`torch_says`, when it is one fixed text) in
    /// parentheses. An undefined or uninitialised `param` has no dtype to match; then only a
    /// non-floating input is refused.
    void check_input_dtype(const Tensor& input, const Tensor& param, const char* torch_says = nullptr) const;

    /// Registers this (already constructed) module as child `name` of `parent`; layers' registering
    /// constructors delegate to their standalone constructor and then call this.
    void register_with(Module* parent, const std::string& name);
    /// Sets the class name reported by name() (built-in modules call it in their constructor).
    void set_name(std::string name) { name_ = std::move(name); }
    /// A generator seeded with seed(): parameter initialisers draw from it.
    Generator init_generator() const { return Generator(seed()); }
    // ---- registered slots, for containers (Sequential, ModuleDict, ParameterList, ...) ----
    /// The children registered directly on this module, in registration order. A slot may hold no
    /// module (registered as None): registered_child then returns nullptr.
    std::size_t num_registered_children() const;
    Module* registered_child(std::size_t index);
    const Module* registered_child(std::size_t index) const;
    const std::string& registered_child_name(std::size_t index) const;
    /// The parameters registered directly on this module, in registration order.
    std::size_t num_registered_parameters() const;
    Parameter& registered_parameter(std::size_t index);
    const Parameter& registered_parameter(std::size_t index) const;
    const std::string& registered_parameter_name(std::size_t index) const;

private:
    friend class Parameter;
    friend class Buffer;
    // The lazy life cycle renames the module, removes its own hooks and materialises registry
    // entries from a checkpoint; Module itself keeps no lazy state (docs/design.md).
    friend class LazyModule;
    // Parametrizations (<lazynn/parametrize.hpp>) move a tensor's slot out of the traversals and
    // compute its value on every call.
    friend struct detail::ParametrizeAccess;
    template <class Copy, class Self>
    friend class detail::CloneRecord;

    /// Records how clone() copies this object: as a `Copy`, valid while the object is a `Self`.
    /// The last record wins; members are built after bases, so the most-derived record is kept.
    template <class Copy, class Self>
    void record_clone_type() noexcept {
        clone_copy_ = [](const Module& m) -> std::unique_ptr<Module> {
            return std::make_unique<Copy>(static_cast<const Copy&>(m));
        };
        clone_type_ = &typeid(Self);
    }

    struct Registry;
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
    HookHandle add_forward_pre_hook(ReplacingForwardPreHook hook, bool prepend);
    HookHandle add_forward_hook(ReplacingForwardHook hook, bool prepend);
    [[noreturn]] void refuse_replaced_inputs() const;
    [[noreturn]] void refuse_single_output_hook(std::size_t outputs) const;
    void remove_hook(std::uint64_t id);
    /// The handle that removes hook `id` from this module while it lives.
    HookHandle module_hook_handle(std::uint64_t id);
    void load_recursive(const StateDict& state, const std::string& prefix, IncompatibleKeys& keys,
                        std::vector<std::string>& errors);
    void print_into(std::string& out) const;

    std::unique_ptr<Registry> registry_;
    std::string name_;
    bool training_ = true;
    mutable std::optional<std::uint64_t> seed_;  // drawn on first need (seed())
    std::vector<HookEntry<ReplacingForwardPreHook>> pre_hooks_;
    std::vector<HookEntry<ReplacingForwardHook>> hooks_;
    std::vector<HookEntry<LoadStateDictPreHook>> load_pre_hooks_;
    std::uint64_t next_hook_id_ = 1;
    std::shared_ptr<int> alive_ = std::make_shared<int>(0);
    Module* parent_ = nullptr;  // set while registered as a member child
    std::string member_name_;
    // The one record clone() uses (record_clone_type); copied with the module.
    std::unique_ptr<Module> (*clone_copy_)(const Module&) = nullptr;
    const std::type_info* clone_type_ = nullptr;
    mutable std::atomic<std::uint64_t> copies_made_{0};  // numbers this module's copies (their seeds)
};

namespace detail {
/// An empty member that records, when its class is constructed, how clone() copies the object
/// (Module::record_clone_type). Declared in Cloneable, LAZYNN_MODULE and Member: it runs in every
/// constructor of its class, inherited ones included, after the bases have recorded theirs.
template <class Copy, class Self = Copy>
class CloneRecord {
public:
    explicit CloneRecord(Module& self) noexcept { self.record_clone_type<Copy, Self>(); }
};
}  // namespace detail

/// The way a module class makes clone() through a base pointer return its own type:
/// `struct Net : Cloneable<Net>` (or `Cloneable<Net, Base>` for another base, which it inherits
/// the constructors of). Built-in layers get the same record from LAZYNN_MODULE; a module
/// registered by value (containers, register_module) is recorded as the type it was given.
///
/// Example:
///     struct Net : Cloneable<Net> { nn::Linear fc{this, "fc", 4, 2}; };
///     std::unique_ptr<Module> copy = net.clone();   // a Net with new storage
template <class Derived, class Base = Module>
class Cloneable : public Base {
public:
    using Base::Base;

private:
    [[no_unique_address]] detail::CloneRecord<Derived> clone_record_{*this};
};

std::ostream& operator<<(std::ostream& os, const Module& module);

}  // namespace lazynn

/// Adds the two members every built-in layer needs: the registering constructor
/// `Class(Module* parent, const std::string& name, args...)` (delegating to `Class(args...)`), and
/// the record that makes clone() copy a `Class` (as Cloneable<Class> does, for classes whose base
/// is not Module).
#define LAZYNN_MODULE(Class)                                                                                        \
public:                                                                                                             \
    template <class... Args>                                                                                        \
    Class(::lazynn::Module* parent, const std::string& name, Args&&... args) : Class(std::forward<Args>(args)...) { \
        this->register_with(parent, name);                                                                          \
    }                                                                                                               \
                                                                                                                    \
private:                                                                                                            \
    [[no_unique_address]] ::lazynn::detail::CloneRecord<Class> lazynn_clone_record_{*this};                         \
                                                                                                                    \
public:
