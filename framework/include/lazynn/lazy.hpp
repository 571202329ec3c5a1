#pragma once
// The lazy protocol, written once (docs/design.md, "The lazy protocol"):
//
//   - LazyModule: the life cycle every lazy module shares (the one-shot forward pre-hook and load
//     hook, partial loads, the switch from "LazyX" to "X"). A module whose sizes come from its
//     first input derives from it beside Module.
//   - Lazy<Concrete>: a built-in layer's lazy twin. It derives from the concrete layer (so
//     dynamic_cast and every member work) and from LazyModule; the twin states only which option
//     comes from which input dimension (infer_options) and how a checkpoint's shapes set it
//     (lazy_load_finalize).
//   - Uninitialized: the tag of the constructor a concrete layer offers its lazy twin.
//
// Example (a twin; the built-in ones are declared the same way):
//
//     class LazyLinear : public Lazy<Linear> {
//         LAZYNN_MODULE(LazyLinear)
//     public:
//         explicit LazyLinear(std::int64_t out_features) : Lazy<Linear>(LinearOptions(0, out_features)) {}
//     protected:
//         void infer_options(const std::vector<Tensor>& inputs) override { options_.in_features(inputs[0].size(-1)); }
//         void lazy_load_finalize() override { options_.in_features(weight.size(1)); }
//     };

#include <lazynn/autograd.hpp>
#include <lazynn/module.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace lazynn {

/// Tag of a layer's constructor for its lazy twin: the tensors whose size is still unknown are
/// created uninitialised, and nothing is drawn or filled.
struct Uninitialized {
    explicit Uninitialized() = default;
};

/// The lazy life cycle (spec section 2; PyTorch's LazyModuleMixin). Derive from it after the
/// Module base and construct it with that same object:
///
///     struct LazyScale : Cloneable<LazyScale>, LazyModule {
///         Parameter weight{this, "weight", UninitializedParameter()};
///         LazyScale() : LazyModule(*this, "LazyScale", "Scale") {}
///         void initialize_parameters(const std::vector<Tensor>& inputs) override { ... }
///     };
///
/// While lazy, name() is the lazy name and a forward pre-hook (first in order) and a load hook are
/// installed. The first forward calls initialize_parameters(inputs); a load that materialises every
/// own tensor calls lazy_load_finalize(). Either way the module then drops both hooks and answers
/// name() with the concrete name (Module::is_lazy() turns false). A failure leaves it lazy.
class LazyModule {
public:
    virtual ~LazyModule() = default;

    /// Infers the unknown sizes from the forward's inputs and materialises.
    /// requires: `inputs` are the first forward's inputs (the module's own parameters may be
    ///           partly materialised by a partial load: those are set aside, uninitialised again,
    ///           for the duration of the call and must come out with the same shape).
    /// ensures:  no own parameter or buffer is uninitialised, each filled as a fresh module
    ///           would be (from init_generator()); does nothing when nothing is uninitialised.
    ///           On a throw the module stays lazy and the next forward retries.
    /// Calling it by hand materialises without finishing the module: the next forward does that.
    /// The default throws NotImplementedError naming the module (PyTorch's message).
    virtual void initialize_parameters(const std::vector<Tensor>& inputs);

protected:
    /// Installs the hooks on `self` (this object, seen as its Module base) and names it
    /// `lazy_name` until it becomes `concrete_name`.
    LazyModule(Module& self, std::string lazy_name, std::string concrete_name);
    LazyModule(const LazyModule&) = default;
    LazyModule(LazyModule&&) = default;
    LazyModule& operator=(const LazyModule&) = delete;
    LazyModule& operator=(LazyModule&&) = delete;

    /// Gen C loading: called when a load materialised every own tensor from the checkpoint's shapes.
    /// requires: every own parameter and buffer is materialised, each from its own stored shape
    ///           (they need not agree yet); the values are not copied yet.
    /// ensures:  the inferred options are set from those shapes, or it threw (RuntimeError naming
    ///           the module, the tensor, its shape and the expected one) and the load restores laziness.
    virtual void lazy_load_finalize() {}
    /// Runs first in a load, before anything is materialised: a module whose tensors depend on
    /// the checkpoint (LazyMultiheadAttention's in_proj or q/k/v projections) picks them here.
    virtual void lazy_load_prepare(const StateDict& /*state*/, const std::string& /*prefix*/) {}

private:
    friend class Module;
    bool pending() const { return pre_hook_ != 0; }
    void run_initialization(Module& self, const std::vector<Tensor>& inputs);
    void load(Module& self, const StateDict& state, const std::string& prefix);
    void finish(Module& self);

    std::string concrete_name_;
    std::uint64_t pre_hook_ = 0, load_hook_ = 0;
    // Own tensors a partial load materialised: the first forward keeps them.
    std::vector<std::string> loaded_params_, loaded_buffers_;
};

/// A built-in layer's lazy twin: Concrete with the sizes its first input implies.
///
/// Concrete provides `Concrete(Options, Uninitialized)` (its unknown tensors uninitialised, its
/// name set), `materialize_from_options()` (materialises each uninitialised tensor with the shape
/// the options now imply) and `reset_parameters()`. The twin overrides infer_options and
/// lazy_load_finalize; the name is "Lazy" + the concrete name until initialisation.
///
/// Example:
///     nn::LazyLinear fc(10);           // a Lazy<nn::Linear>
///     Tensor y = fc(randn({4, 32}));   // now Linear(in_features=32, out_features=10, bias=True)
template <class Concrete>
class Lazy : public Concrete, public LazyModule {
public:
    /// requires: inputs non-empty (TypeError otherwise, PyTorch's wording); the twin's
    ///           infer_options checks ranks and divisibility.
    /// ensures:  the inferred options set, every own tensor materialised and reset from the
    ///           module's seed; a no-op once nothing is uninitialised.
    void initialize_parameters(const std::vector<Tensor>& inputs) final {
        if (inputs.empty()) {
            throw TypeError(this->name() + ".initialize_parameters() missing 1 required positional argument: 'input'");
        }
        if (sizes_known() && !this->has_uninitialized_params()) return;
        NoGradGuard no_grad;
        infer_options(inputs);
        this->materialize_from_options();
        Concrete::reset_parameters();
    }
    void initialize_parameters(const Tensor& input) { initialize_parameters(std::vector<Tensor>{input}); }

    /// requires: nothing. ensures: a silent no-op while any own tensor is uninitialised (PyTorch's
    /// guard); afterwards the concrete layer's initialisation.
    void reset_parameters() override {
        if (!this->has_uninitialized_params() && sizes_known()) Concrete::reset_parameters();
    }

protected:
    template <class Options>
    explicit Lazy(Options options)
        : Concrete(std::move(options), Uninitialized{}), LazyModule(*this, "Lazy" + this->name(), this->name()) {}
    Lazy(const Lazy&) = default;
    Lazy(Lazy&&) noexcept = default;

    /// Sets the options that come from the inputs (e.g. in_features = inputs[0].size(-1)),
    /// throwing the layer's error for an input it cannot take. Runs under NoGradGuard.
    virtual void infer_options(const std::vector<Tensor>& inputs) = 0;
    /// Whether the inferred options are known. By default: once nothing is uninitialised; a twin
    /// whose options matter without parameters (LazyLayerNorm without affine) says so here.
    virtual bool sizes_known() const { return !this->has_uninitialized_params(); }
};

}  // namespace lazynn
