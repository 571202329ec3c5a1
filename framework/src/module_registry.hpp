#pragma once
// Module's registry and the bookkeeping that makes copied members find their new owner
// (internal header).
//
// A registered member (Parameter, Buffer or child Module declared inside a Module) is copied by
// the C++ copy constructor of the enclosing class, which knows nothing of registries. Module's
// copy constructor records a link {from: source, to: copy} before the members are copied; a
// member being copied computes where its new owner must be (its own address minus its offset in
// the source) and, if a link says that address is a copy of its old owner, registers there.
// Links are dropped when either module is destroyed, so an address can never be mistaken for a
// live copy in progress.

#include <lazynn/module.hpp>

#include <memory>
#include <string>
#include <vector>

namespace lazynn {

struct Module::Registry {
    template <class T>
    struct Slot {
        std::string name;
        T* member = nullptr;       // a declared member (lives inside the module object)
        std::unique_ptr<T> owned;  // registered at run time (register_parameter & co.)
        bool persistent = true;    // buffers only
        T* get() const { return member ? member : owned.get(); }
    };
    std::vector<Slot<Parameter>> params;
    std::vector<Slot<Buffer>> buffers;
    std::vector<Slot<Module>> children;

    // Tensors a parametrization computes (<lazynn/parametrize.hpp>): their slots move here, out of
    // every traversal and of state_dict(), while `parametrizations.<name>` holds the originals; the
    // member objects stay where the module's forward reads them.
    std::vector<Slot<Parameter>> parametrized_params;
    std::vector<Slot<Buffer>> parametrized_buffers;
    // Parametrizations registered on a tensor still uninitialised: applied in order on the first
    // call after it materialises (docs/design.md, decision 25).
    struct PendingParametrization {
        std::string name;
        std::unique_ptr<Module> parametrization;
        bool unsafe = false;
    };
    std::vector<PendingParametrization> pending_parametrizations;

    bool has_parametrizations() const {
        return !parametrized_params.empty() || !parametrized_buffers.empty() || !pending_parametrizations.empty();
    }
};

namespace detail {

/// Where a member at `new_member`, copied from `old_member` registered with `old_owner`, must
/// register: the copy of `old_owner` that contains it, or null when it is a free-standing copy.
Module* copy_target(const Module* old_owner, const void* old_member, const void* new_member);
void add_copy_link(const Module* from, Module* to);
void drop_copy_links(const Module* module);

/// A deep copy of a parameter or buffer tensor: new storage, equal values, same requires_grad;
/// an uninitialised tensor gives a new, independent uninitialised one.
Tensor deep_copy_tensor(const Tensor& t);

}  // namespace detail
}  // namespace lazynn
