#pragma once
// Member<M>: any module type declared as a registered member of another, with its constructor's
// arguments, the way a built-in layer is declared:
//
//     struct Net : lazynn::Cloneable<Net> {
//         lazynn::Member<BasicBlock> block{this, "block", 64, 128, 2};   // BasicBlock(64, 128, 2)
//         nn::Linear head{this, "head", 128, 10};
//     };
//
// A Member<M> is an M (call it, read its members, pass it where an M& is taken); it differs only in
// its constructor, which builds M from the arguments and registers it as child `name` of `parent`.
// Copies and clones behave as M's: copying the parent copies the member into the copy's registry.
// No macro and no constructor to write in M (docs/writing-a-module.md, design.md decision 19).

#include <lazynn/module.hpp>

#include <concepts>
#include <string>
#include <utility>

namespace lazynn {

template <class M>
requires std::derived_from<M, Module>
class Member : public M {
public:
    /// Builds M(args...) and registers it as child `name` of `parent`.
    ///   requires: parent is the module being constructed (`this` in a member declaration) and
    ///             `name` is a valid, unused member name (KeyError otherwise, as for any member).
    ///   ensures:  parent's named_children() lists this module under `name`, after the members
    ///             declared before it.
    template <class... Args>
    requires std::constructible_from<M, Args...> Member(Module* parent, const std::string& name, Args&&... args)
        : M(std::forward<Args>(args)...) {
        this->register_with(parent, name);
    }

private:
    // Copies and clones are M's: the wrapper only adds this constructor.
    [[no_unique_address]] detail::CloneRecord<M, Member<M>> clone_record_{*this};
};

}  // namespace lazynn
