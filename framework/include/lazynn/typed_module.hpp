#pragma once
// TypedModule<Out(In...)>: a Module whose forward takes and returns what the model needs: several
// tensors, a struct of tensors, a std::vector<Tensor>, tuples (TensorStructure,
// <lazynn/tensor_structure.hpp>).
//
//     struct VAEOutput { Tensor reconstruction, mu, logvar; };
//     struct VAE : lazynn::TypedModule<VAEOutput(Tensor)> {
//         nn::LazyLinear encoder{this, "encoder", 400};
//         ...
//         VAEOutput forward(Tensor x) override { ... }   // [N, 784] -> {[N, 784], [N, 20], [N, 20]}
//     };
//
// A forward of one tensor returning a structure takes it by value: forward(const Tensor&) is the
// one-tensor forward every Module has, which returns a Tensor (a static_assert says so).
//     VAEOutput out = vae(x);                     // hooks run around forward, as for any module
//     vae.initialize(x); vae.summary(x);          // the typed forward runs
//
// Everything that handles modules generically sees the call flat (docs/design.md, decision 23):
// hooks get the flattened inputs and outputs (and may replace them, as many as there were),
// lazy children materialise on the first call, containers and DistributedDataParallel call
// Module::call(flat inputs) -> flat outputs, which this class implements by rebuilding the
// arguments from the flat list. That rebuilding needs arguments of a fixed size: a forward taking
// a std::vector<Tensor> is called typed (operator()) only; call() refuses it with a TypeError.
//
// Contract (requires / ensures):
//   - Out and every In (without const and &) are TensorStructures (checked at compile time).
//   - operator()(in...) runs the forward pre-hooks on flatten(in...), forward on the (possibly
//     replaced) arguments, then the forward hooks on flatten(out); the result has the layout of
//     forward's (the same vector lengths), holding the hooks' replacements if any.
//   - A subclass that is copied through a base pointer derives Cloneable<Derived, TypedModule<...>>.

#include <lazynn/module.hpp>
#include <lazynn/tensor_structure.hpp>

#include <cstddef>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace lazynn {

template <class Signature, class Base = Module>
class TypedModule;

template <class Out, class... In, class Base>
class TypedModule<Out(In...), Base> : public Base {
    static_assert(std::is_base_of_v<Module, Base>, "TypedModule's Base is a Module");
    static_assert(TensorStructure<Out>,
                  "a TypedModule's forward returns a Tensor, a std::vector<Tensor>, a tuple or pair of them, or an "
                  "aggregate struct of those");
    static_assert((TensorStructure<In> && ...),
                  "a TypedModule's forward takes Tensors, std::vector<Tensor>s, tuples or pairs of them, or aggregate "
                  "structs of those");
    static_assert(!(sizeof...(In) == 1 && (std::is_same_v<In, const Tensor&> && ...) && !std::is_same_v<Out, Tensor>),
                  "forward(const Tensor&) is the one-tensor forward every Module has, and it returns a Tensor: a "
                  "forward taking one tensor and returning a structure takes it by value, "
                  "TypedModule<Out(Tensor)> with `Out forward(Tensor x) override`");
    static_assert(((!std::is_lvalue_reference_v<In> || std::is_const_v<std::remove_reference_t<In>>)&&...),
                  "a TypedModule's forward takes its arguments by value or by const reference");

public:
    using Output = Out;
    using Base::Base;

    /// The model's computation. Call the module (operator()) rather than forward, so hooks and lazy
    /// children's materialisation run. It hides Module's one-tensor forward on purpose: a typed
    /// module is called with its own arguments, and generic code reaches it through call().
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Woverloaded-virtual"
#elif defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverloaded-virtual"
#endif
    virtual Out forward(In... inputs) = 0;
#if defined(__clang__)
#pragma clang diagnostic pop
#elif defined(__GNUC__)
#pragma GCC diagnostic pop
#endif

    /// forward between the hooks (see the contract above).
    Out operator()(In... inputs) {
        const std::vector<Tensor> flat_inputs = flatten(inputs...);
        std::optional<std::vector<Tensor>> replaced = this->run_pre_hooks(flat_inputs);
        Out out = replaced ? forward_rebuilt(*replaced, inputs...) : forward(inputs...);
        if (!this->has_forward_hooks()) return out;
        std::vector<Tensor> outputs = this->run_hooks(replaced ? *replaced : flat_inputs, flatten(out));
        std::size_t position = 0;
        return rebuild_like(out, outputs, position, this->name() + " (outputs from a forward hook)");
    }

    /// The flat call (Module::call): rebuilds the arguments from `inputs` and flattens the result.
    ///   requires: inputs holds exactly the tensors of forward's arguments, in order (ValueError
    ///             naming the module and both counts otherwise); no argument is a std::vector<Tensor>
    ///             (TypeError).
    std::vector<Tensor> call(const std::vector<Tensor>& inputs) override {
        if constexpr ((has_fixed_size<In>() && ...)) {
            const std::string who = this->name();
            std::size_t expected = 0;
            ((expected += flat_size<In>()), ...);
            if (inputs.size() != expected) {
                throw ValueError(who + " takes " + std::to_string(expected) + " tensors (its forward's arguments, " +
                                 "flattened), but was called with " + std::to_string(inputs.size()));
            }
            std::size_t position = 0;
            std::tuple<std::remove_cvref_t<In>...> arguments{
                unflatten<std::remove_cvref_t<In>>(inputs, position, who)...};
            return flatten(std::apply([this](const auto&... a) { return (*this)(a...); }, arguments));
        } else {
            throw TypeError(this->name() +
                            "'s forward takes a std::vector<Tensor>, whose length a flat list of tensors does not "
                            "give; call the module directly (operator()) instead of through a container or call()");
        }
    }

    /// initialize()'s dry run through the typed forward. (It hides Module's overloads, which
    /// would be ambiguous with it for a forward taking one Tensor by value; through a Module&
    /// they call call(), so they reach the typed forward too.)
    void initialize(In... inputs) {
        this->dry_run([&] { (*this)(inputs...); });
    }
    using Base::summary;
    /// summary()'s table from a dry run through the typed forward.
    std::string summary(In... inputs) {
        return this->summary_of(Module::describe_inputs(flatten(inputs...)),
                                [&] { this->dry_run([&] { (*this)(inputs...); }); });
    }

private:
    template <class T>
    static constexpr std::size_t flat_size() {
        // Every fixed-size structure flattens a value-initialised instance to its length.
        using V = std::remove_cvref_t<T>;
        if constexpr (std::is_same_v<V, Tensor>) {
            return 1;
        } else if constexpr (detail::is_tuple_like<V>::value) {
            return []<std::size_t... I>(std::index_sequence<I...>) {
                return (std::size_t{0} + ... + flat_size<std::tuple_element_t<I, V>>());
            }
            (std::make_index_sequence<std::tuple_size_v<V>>{});
        } else {
            using Fields = decltype(detail::aggregate_fields(std::declval<V&>()));
            return []<std::size_t... I>(std::index_sequence<I...>) {
                return (std::size_t{0} + ... + flat_size<std::tuple_element_t<I, Fields>>());
            }
            (std::make_index_sequence<std::tuple_size_v<Fields>>{});
        }
    }

    /// forward on arguments rebuilt from a pre-hook's replacement, laid out like the originals.
    Out forward_rebuilt(const std::vector<Tensor>& replaced, const std::remove_cvref_t<In>&... originals) {
        const std::string who = this->name() + " (inputs from a forward pre-hook)";
        std::size_t position = 0;
        std::tuple<std::remove_cvref_t<In>...> arguments{rebuild_like(originals, replaced, position, who)...};
        return std::apply([this](const auto&... a) { return forward(a...); }, arguments);
    }
};

}  // namespace lazynn
