// Module: registry, copying, traversal, hooks, modes, and the lazy queries (the life cycle is lazy.cpp).
#include "module_registry.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autocast.hpp>
#include <lazynn/autograd.hpp>
#include <lazynn/lazy.hpp>
#include <lazynn/parametrize.hpp>

#include <algorithm>
#include <cstdint>
#include <cxxabi.h>
#include <string_view>
#include <typeinfo>
#include <unordered_set>

namespace lazynn {

// ---- copy links (see module_registry.hpp) ----

namespace detail {
namespace {
struct CopyLink {
    const Module* from;
    Module* to;
};
thread_local std::vector<CopyLink> copy_links;
}  // namespace

Module* copy_target(const Module* old_owner, const void* old_member, const void* new_member) {
    const auto offset = reinterpret_cast<std::uintptr_t>(old_member) - reinterpret_cast<std::uintptr_t>(old_owner);
    const auto candidate = reinterpret_cast<std::uintptr_t>(new_member) - offset;
    for (auto it = copy_links.rbegin(); it != copy_links.rend(); ++it) {
        if (it->from == old_owner && reinterpret_cast<std::uintptr_t>(it->to) == candidate) return it->to;
    }
    return nullptr;
}

void add_copy_link(const Module* from, Module* to) { copy_links.push_back({from, to}); }

void drop_copy_links(const Module* module) {
    std::erase_if(copy_links, [module](const CopyLink& l) { return l.from == module || l.to == module; });
}

}  // namespace detail

namespace {

void check_name(const std::string& name, const char* kind) {
    if (name.find('.') != std::string::npos)
        throw KeyError(std::string(kind) + " name can't contain \".\", got: " + name);
    if (name.empty()) throw KeyError(std::string(kind) + " name can't be empty string \"\"");
}

template <class Slots>
auto find_slot(Slots& slots, const std::string& name) {
    return std::find_if(slots.begin(), slots.end(), [&](const auto& s) { return s.name == name; });
}

/// The seed of the n-th copy (n >= 1) of a module seeded with `seed`: splitmix64 of the pair, so
/// copies differ from the source and from each other, and the global generator is not touched
/// (copying inside a model's constructor keeps "same manual_seed, same weights").
std::uint64_t copy_seed(std::uint64_t seed, std::uint64_t n) {
    std::uint64_t z = seed + n * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/// The demangled name of a class, namespaces included ("lazynn::nn::Linear").
std::string class_name(const std::type_info& type) {
    const char* mangled = type.name();
    int status = 0;
    char* demangled = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
    std::string full = status == 0 && demangled ? demangled : mangled;
    std::free(demangled);
    return full;
}

/// A class name without its scopes ("lazynn::nn::Linear" -> "Linear", "f()::Local" -> "Local"),
/// keeping those inside template arguments.
std::string without_scopes(const std::string& full) {
    const std::size_t template_start = full.find('<');
    const std::size_t last_scope = full.rfind("::", template_start);
    return last_scope == std::string::npos ? full : full.substr(last_scope + 2);
}

std::unique_ptr<Parameter> copy_owned(const Parameter& p) {
    return std::make_unique<Parameter>(detail::deep_copy_tensor(p), p.defined() && p.requires_grad());
}
std::unique_ptr<Buffer> copy_owned(const Buffer& b) { return std::make_unique<Buffer>(detail::deep_copy_tensor(b)); }

/// Same names in the same order; run-time entries are deep-copied, member slots stay pending
/// until the members' own copy constructors fill them.
template <class Slots>
void copy_tensor_slots(const Slots& from, Slots& to) {
    for (const auto& s : from) {
        auto& slot = to.emplace_back();
        slot.name = s.name;
        slot.persistent = s.persistent;
        if (s.owned) slot.owned = copy_owned(*s.owned);
    }
}

/// Only owned entries move: members stay listed by the source, which remains a whole module.
template <class Slots>
void move_tensor_slots(Slots& from, Slots& to) {
    for (auto& s : from) {
        auto& slot = to.emplace_back();
        slot.name = s.name;
        slot.persistent = s.persistent;
        slot.owned = std::move(s.owned);
    }
}

/// The slot a copy left pending for member `name` in `slots` or `parametrized` (the same kind's
/// parametrized slots), or null.
template <class Slots>
auto pending_slot(const std::string& name, Slots& slots, Slots& parametrized) -> decltype(&slots.front()) {
    for (Slots* list : {&slots, &parametrized}) {
        auto it = find_slot(*list, name);
        if (it != list->end() && !it->member && !it->owned) return &*it;
    }
    return nullptr;
}

}  // namespace

// ---- construction, copy, destruction ----

Module::Module() : registry_(std::make_unique<Registry>()) {}

std::uint64_t Module::seed() const {
    if (!seed_) seed_ = draw_module_seed();
    return *seed_;
}

Module::Module(Module* parent, const std::string& name) : Module() {
    if (parent == nullptr) throw ValueError("module '" + name + "': the parent module is null");
    parent->adopt_member(*this, name);
}

Module::Module(const Module& other)
    : registry_(std::make_unique<Registry>()),
      name_(other.name_),
      training_(other.training_),
      // An unseeded source has no parameters yet; its copy draws on first need like any module.
      seed_(other.seed_ ? std::optional<std::uint64_t>(copy_seed(*other.seed_, ++other.copies_made_)) : std::nullopt),
      pre_hooks_(other.pre_hooks_),
      hooks_(other.hooks_),
      load_pre_hooks_(other.load_pre_hooks_),
      next_hook_id_(other.next_hook_id_),
      clone_copy_(other.clone_copy_),
      clone_type_(other.clone_type_) {
    // Same names in the same order; run-time entries are deep-copied here, member slots stay
    // pending until the members' own copy constructors fill them.
    copy_tensor_slots(other.registry_->params, registry_->params);
    copy_tensor_slots(other.registry_->buffers, registry_->buffers);
    copy_tensor_slots(other.registry_->parametrized_params, registry_->parametrized_params);
    copy_tensor_slots(other.registry_->parametrized_buffers, registry_->parametrized_buffers);
    for (const auto& p : other.registry_->pending_parametrizations)
        registry_->pending_parametrizations.push_back({p.name, p.parametrization->clone(), p.unsafe});
    for (const auto& s : other.registry_->children) {
        auto& slot = registry_->children.emplace_back();
        slot.name = s.name;
        if (s.owned) slot.owned = s.owned->clone();
    }
    detail::add_copy_link(&other, this);
    if (other.parent_) {
        if (Module* target = detail::copy_target(other.parent_, &other, this))
            target->adopt_member(*this, other.member_name_);
    }
}

// Copies the name and hooks rather than moving them: the source's members stay listed by its own
// registry (only owned entries move), so the source remains a whole module.
// NOLINTBEGIN(performance-move-constructor-init)
Module::Module(Module&& other) noexcept
    : registry_(std::make_unique<Registry>()),
      name_(other.name_),
      training_(other.training_),
      seed_(other.seed_),
      pre_hooks_(other.pre_hooks_),
      hooks_(other.hooks_),
      load_pre_hooks_(other.load_pre_hooks_),
      next_hook_id_(other.next_hook_id_),
      clone_copy_(other.clone_copy_),
      clone_type_(other.clone_type_),
      copies_made_(other.copies_made_.load()) {
    // NOLINTEND(performance-move-constructor-init)
    move_tensor_slots(other.registry_->params, registry_->params);
    move_tensor_slots(other.registry_->buffers, registry_->buffers);
    move_tensor_slots(other.registry_->parametrized_params, registry_->parametrized_params);
    move_tensor_slots(other.registry_->parametrized_buffers, registry_->parametrized_buffers);
    registry_->pending_parametrizations = std::move(other.registry_->pending_parametrizations);
    for (auto& s : other.registry_->children) {
        auto& slot = registry_->children.emplace_back();
        slot.name = s.name;
        slot.owned = std::move(s.owned);
    }
    detail::add_copy_link(&other, this);
    if (other.parent_) {
        if (Module* target = detail::copy_target(other.parent_, &other, this))
            target->adopt_member(*this, other.member_name_);
    }
}

Module::~Module() {
    detail::drop_copy_links(this);
    if (parent_) parent_->release_member(*this);
    // Members of derived classes are gone already; owned entries die with the registry.
    for (auto* slots : {&registry_->params, &registry_->parametrized_params}) {
        for (auto& s : *slots) {
            if (s.owned) s.owned->owner_ = nullptr;
        }
    }
    for (auto* slots : {&registry_->buffers, &registry_->parametrized_buffers}) {
        for (auto& s : *slots) {
            if (s.owned) s.owned->owner_ = nullptr;
        }
    }
}

std::unique_ptr<Module> Module::clone() const {
    if (clone_copy_ == nullptr) {
        const std::string own_type = without_scopes(class_name(typeid(*this)));
        throw NotImplementedError("clone(): " + own_type + " does not record its type for copies; derive it from " +
                                  "lazynn::Cloneable<" + own_type + "> (or register it by value)");
    }
    // A class derived from a recorded one without recording itself would be copied as that base:
    // its overrides silently lost.
    if (*clone_type_ != typeid(*this)) {
        const std::string own_type = without_scopes(class_name(typeid(*this)));
        throw NotImplementedError("clone(): " + own_type + " would be copied as its base " + class_name(*clone_type_) +
                                  "; derive it from lazynn::Cloneable<" + own_type + ", " + class_name(*clone_type_) +
                                  ">");
    }
    return clone_copy_(*this);
}

// ---- registration ----

void Module::adopt_member(Parameter& p, const std::string& name) {
    check_name(name, "parameter");
    (void)seed();  // a module with parameters owns a seed from its first one on (decision 5)
    auto& r = *registry_;
    auto it = find_slot(r.params, name);
    if (auto* pending = pending_slot(name, r.params, r.parametrized_params)) {
        pending->member = &p;  // filling the slot a copy left pending
    } else {
        if (it != r.params.end() || find_slot(r.buffers, name) != r.buffers.end() ||
            find_slot(r.children, name) != r.children.end()) {
            throw KeyError("attribute '" + name + "' already exists");
        }
        r.params.push_back({name, &p, nullptr, true});
    }
    p.owner_ = this;
    p.name_ = name;
}

void Module::adopt_member(Buffer& b, const std::string& name) {
    check_name(name, "buffer");
    auto& r = *registry_;
    auto it = find_slot(r.buffers, name);
    if (auto* pending = pending_slot(name, r.buffers, r.parametrized_buffers)) {
        pending->member = &b;
        pending->persistent = b.persistent_;
    } else {
        if (it != r.buffers.end() || find_slot(r.params, name) != r.params.end() ||
            find_slot(r.children, name) != r.children.end()) {
            throw KeyError("attribute '" + name + "' already exists");
        }
        r.buffers.push_back({name, &b, nullptr, b.persistent_});
    }
    b.owner_ = this;
    b.name_ = name;
}

void Module::adopt_member(Module& m, const std::string& name) {
    check_name(name, "module");
    auto& r = *registry_;
    auto it = find_slot(r.children, name);
    if (it != r.children.end() && !it->member && !it->owned) {
        it->member = &m;
    } else {
        if (it != r.children.end() || find_slot(r.params, name) != r.params.end() ||
            find_slot(r.buffers, name) != r.buffers.end()) {
            throw KeyError("attribute '" + name + "' already exists");
        }
        r.children.push_back({name, &m, nullptr, true});
    }
    m.parent_ = this;
    m.member_name_ = name;
}

void Module::register_with(Module* parent, const std::string& name) {
    if (parent == nullptr) throw ValueError("module '" + name + "': the parent module is null");
    parent->adopt_member(*this, name);
}

void Module::release_member(const Parameter& p) {
    std::erase_if(registry_->params, [&](const auto& s) { return s.member == &p; });
    std::erase_if(registry_->parametrized_params, [&](const auto& s) { return s.member == &p; });
}
void Module::release_member(const Buffer& b) {
    std::erase_if(registry_->buffers, [&](const auto& s) { return s.member == &b; });
    std::erase_if(registry_->parametrized_buffers, [&](const auto& s) { return s.member == &b; });
}
void Module::release_member(const Module& m) {
    std::erase_if(registry_->children, [&](const auto& s) { return s.member == &m; });
}

Parameter& Module::register_parameter(const std::string& name, const Tensor& value, bool requires_grad) {
    check_name(name, "parameter");
    (void)seed();
    if (value.defined() && value.grad_fn()) {
        throw ValueError("Cannot assign non-leaf Tensor to parameter '" + name +
                         "'. Model parameters must be created explicitly. To express '" + name +
                         "' as a function of another Tensor, compute the value in the forward() method.");
    }
    auto& r = *registry_;
    Parameter param = value.defined() ? Parameter(value, requires_grad) : Parameter();
    if (auto it = find_slot(r.params, name); it != r.params.end()) {
        *it->get() = param;  // replace in place, keeping the position (PyTorch's behaviour)
        return *it->get();
    }
    if (find_slot(r.buffers, name) != r.buffers.end() || find_slot(r.children, name) != r.children.end()) {
        throw KeyError("attribute '" + name + "' already exists");
    }
    auto& slot = r.params.emplace_back();
    slot.name = name;
    slot.owned = std::make_unique<Parameter>(param);
    return *slot.owned;
}

Buffer& Module::register_buffer(const std::string& name, const Tensor& value, bool persistent) {
    check_name(name, "buffer");
    auto& r = *registry_;
    if (auto it = find_slot(r.buffers, name); it != r.buffers.end()) {
        *it->get() = Buffer(value);
        it->persistent = persistent;
        return *it->get();
    }
    if (find_slot(r.params, name) != r.params.end() || find_slot(r.children, name) != r.children.end()) {
        throw KeyError("attribute '" + name + "' already exists");
    }
    auto& slot = r.buffers.emplace_back();
    slot.name = name;
    slot.persistent = persistent;
    slot.owned = std::make_unique<Buffer>(value);
    return *slot.owned;
}

Module& Module::register_module(const std::string& name, std::unique_ptr<Module> module) {
    check_name(name, "module");
    if (!module) throw ValueError("register_module('" + name + "'): the module is null");
    auto& r = *registry_;
    if (auto it = find_slot(r.children, name); it != r.children.end()) {
        if (it->member) throw KeyError("attribute '" + name + "' already exists (it is a declared member)");
        it->owned = std::move(module);
        return *it->owned;
    }
    if (find_slot(r.params, name) != r.params.end() || find_slot(r.buffers, name) != r.buffers.end()) {
        throw KeyError("attribute '" + name + "' already exists");
    }
    auto& slot = r.children.emplace_back();
    slot.name = name;
    slot.owned = std::move(module);
    return *slot.owned;
}

// ---- traversal ----

namespace {
std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}
}  // namespace

namespace {

/// Pre-order walk over a module tree, each module once (by identity) when remove_duplicate;
/// `slots_of(m)` gives m's child slots. M is Module or const Module.
template <class M, class SlotsOf>
std::vector<std::pair<std::string, M*>> walk_modules(M& root, const std::string& prefix, bool remove_duplicate,
                                                     SlotsOf slots_of) {
    std::vector<std::pair<std::string, M*>> out;
    std::unordered_set<const Module*> seen;
    std::function<void(M&, const std::string&)> visit = [&](M& m, const std::string& p) {
        if (remove_duplicate && !seen.insert(&m).second) return;
        out.emplace_back(p, &m);
        for (const auto& slot : slots_of(m)) {
            if (M* child = slot.get()) visit(*child, join(p, slot.name));
        }
    };
    visit(root, prefix);
    return out;
}

/// The direct children, each once, with their names. M is Module or const Module.
template <class M, class Slots>
std::vector<std::pair<std::string, M*>> unique_children(const Slots& slots) {
    std::vector<std::pair<std::string, M*>> out;
    std::unordered_set<const Module*> seen;
    for (const auto& slot : slots) {
        if (M* child = slot.get(); child && seen.insert(child).second) out.emplace_back(slot.name, child);
    }
    return out;
}

/// The direct children, each once, without names: this runs on every Sequential-style forward, so
/// no strings and no hash set.
template <class M, class Slots>
std::vector<M*> unique_children_only(const Slots& slots) {
    std::vector<M*> out;
    for (const auto& slot : slots) {
        M* child = slot.get();
        if (child && std::find(out.begin(), out.end(), child) == out.end()) out.push_back(child);
    }
    return out;
}

template <class M>
std::vector<M*> without_names(const std::vector<std::pair<std::string, M*>>& named) {
    std::vector<M*> out;
    out.reserve(named.size());
    for (const auto& entry : named) out.push_back(entry.second);
    return out;
}

}  // namespace

std::vector<std::pair<std::string, Module*>> Module::named_modules(const std::string& prefix, bool remove_duplicate) {
    return walk_modules<Module>(
        *this, prefix, remove_duplicate, [](Module & m) -> auto& { return m.registry_->children; });
}

std::vector<std::pair<std::string, const Module*>> Module::named_modules(const std::string& prefix,
                                                                         bool remove_duplicate) const {
    return walk_modules<const Module>(
        *this, prefix, remove_duplicate, [](const Module& m) -> auto& { return m.registry_->children; });
}

std::vector<Module*> Module::modules() { return without_names(named_modules()); }

std::vector<const Module*> Module::modules() const { return without_names(named_modules()); }

std::vector<std::pair<std::string, Module*>> Module::named_children() {
    return unique_children<Module>(registry_->children);
}

std::vector<std::pair<std::string, const Module*>> Module::named_children() const {
    return unique_children<const Module>(registry_->children);
}

std::vector<Module*> Module::children() { return unique_children_only<Module>(registry_->children); }

std::vector<const Module*> Module::children() const { return unique_children_only<const Module>(registry_->children); }

std::size_t Module::num_registered_children() const { return registry_->children.size(); }
Module* Module::registered_child(std::size_t index) { return registry_->children.at(index).get(); }
const Module* Module::registered_child(std::size_t index) const { return registry_->children.at(index).get(); }
const std::string& Module::registered_child_name(std::size_t index) const { return registry_->children.at(index).name; }
std::size_t Module::num_registered_parameters() const { return registry_->params.size(); }
Parameter& Module::registered_parameter(std::size_t index) { return *registry_->params.at(index).get(); }
const Parameter& Module::registered_parameter(std::size_t index) const { return *registry_->params.at(index).get(); }
const std::string& Module::registered_parameter_name(std::size_t index) const {
    return registry_->params.at(index).name;
}

namespace {

/// The tensors of one registry slot kind (parameters or buffers) over the module tree, named by
/// dotted path, each tensor once (by identity) when remove_duplicate.
template <class T, class Slots>
std::vector<std::pair<std::string, T>> named_tensors(const Module& root, const std::string& prefix, bool recurse,
                                                     bool remove_duplicate, Slots slots_of) {
    std::vector<std::pair<std::string, T>> out;
    std::unordered_set<const TensorImpl*> seen;
    const auto mods = recurse ? root.named_modules(prefix, remove_duplicate)
                              : std::vector<std::pair<std::string, const Module*>>{{prefix, &root}};
    for (const auto& [path, m] : mods) {
        for (const auto& slot : slots_of(*m)) {
            const T* t = slot.get();
            if (!t || !t->defined()) continue;
            if (remove_duplicate && !seen.insert(t->impl_ptr().get()).second) continue;
            out.emplace_back(join(path, slot.name), *t);
        }
    }
    return out;
}

}  // namespace

std::vector<std::pair<std::string, Parameter>> Module::named_parameters(const std::string& prefix, bool recurse,
                                                                        bool remove_duplicate) const {
    return named_tensors<Parameter>(
        *this, prefix, recurse, remove_duplicate, [](const Module& m) -> auto& { return m.registry_->params; });
}

std::vector<Parameter> Module::parameters(bool recurse) const {
    std::vector<Parameter> out;
    for (auto& [name, p] : named_parameters("", recurse)) out.push_back(p);
    return out;
}

std::vector<std::pair<std::string, Buffer>> Module::named_buffers(const std::string& prefix, bool recurse,
                                                                  bool remove_duplicate) const {
    return named_tensors<Buffer>(
        *this, prefix, recurse, remove_duplicate, [](const Module& m) -> auto& { return m.registry_->buffers; });
}

std::vector<Buffer> Module::buffers(bool recurse) const {
    std::vector<Buffer> out;
    for (auto& [name, b] : named_buffers("", recurse)) out.push_back(b);
    return out;
}

Module& Module::get_submodule(const std::string& path) {
    Module* m = this;
    std::size_t start = 0;
    while (start < path.size()) {
        const std::size_t dot = path.find('.', start);
        const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        auto it = find_slot(m->registry_->children, part);
        if (it == m->registry_->children.end() || !it->get())
            throw AttributeError(m->name() + " has no attribute `" + part + "`");
        m = it->get();
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return *m;
}

Parameter& Module::get_parameter(const std::string& path) {
    const std::size_t dot = path.rfind('.');
    Module& m = dot == std::string::npos ? *this : get_submodule(path.substr(0, dot));
    const std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
    auto it = find_slot(m.registry_->params, leaf);
    if (it == m.registry_->params.end()) throw AttributeError(m.name() + " has no parameter `" + leaf + "`");
    return *it->get();
}

Buffer& Module::get_buffer(const std::string& path) {
    const std::size_t dot = path.rfind('.');
    Module& m = dot == std::string::npos ? *this : get_submodule(path.substr(0, dot));
    const std::string leaf = dot == std::string::npos ? path : path.substr(dot + 1);
    auto it = find_slot(m.registry_->buffers, leaf);
    if (it == m.registry_->buffers.end()) throw AttributeError(m.name() + " has no buffer `" + leaf + "`");
    return *it->get();
}

// ---- forward and hooks ----

Tensor Module::forward(const Tensor&) {
    throw NotImplementedError("Module [" + name() +
                              "] is missing the required \"forward\" function (or its forward does not "
                              "take a single tensor: call it directly, or through call(inputs))");
}

Tensor Module::operator()(const Tensor& input) {
    return call_with_hooks({input}, [&](const std::vector<Tensor>& in) { return forward(in[0]); });
}

std::vector<Tensor> Module::call(const std::vector<Tensor>& inputs) {
    if (inputs.size() != 1) {
        throw TypeError(name() + " takes one tensor (its forward(const Tensor&)), but was called with " +
                        std::to_string(inputs.size()) +
                        "; a module whose forward takes several derives TypedModule (<lazynn/typed_module.hpp>)");
    }
    return {(*this)(inputs[0])};
}

std::optional<std::vector<Tensor>> Module::run_pre_hooks(const std::vector<Tensor>& inputs) {
    std::optional<std::vector<Tensor>> replaced;
    if (!pre_hooks_.empty()) {
        const auto snapshot = pre_hooks_;  // hooks may remove themselves (the lazy hook does)
        for (const auto& h : snapshot) {
            std::optional<std::vector<Tensor>> result = h.fn(*this, replaced ? *replaced : inputs);
            if (!result) continue;
            if (result->size() != inputs.size()) {
                throw ValueError(name() + ": a forward pre-hook returned " + std::to_string(result->size()) +
                                 " inputs, but the module is called with " + std::to_string(inputs.size()) +
                                 "; return them all (std::optional<std::vector<Tensor>>) or std::nullopt to keep them");
            }
            replaced = std::move(result);
        }
    }
    // Parametrized tensors are computed for the call after the pre-hooks, so a lazy module has
    // materialised (and a pending parametrization can attach) by then.
    if (registry_->has_parametrizations()) detail::ParametrizeAccess::refresh(*this);
    return replaced;
}

Tensor Module::run_hooks(const std::vector<Tensor>& inputs, Tensor output) {
    if (hooks_.empty()) return output;
    std::vector<Tensor> outputs = run_hooks(inputs, std::vector<Tensor>{std::move(output)});
    return std::move(outputs[0]);
}

std::vector<Tensor> Module::run_hooks(const std::vector<Tensor>& inputs, std::vector<Tensor> outputs) {
    if (hooks_.empty()) return outputs;
    const auto snapshot = hooks_;
    for (const auto& h : snapshot) {
        std::optional<std::vector<Tensor>> result = h.fn(*this, inputs, outputs);
        if (!result) continue;
        if (result->size() != outputs.size()) {
            throw ValueError(name() + ": a forward hook returned " + std::to_string(result->size()) +
                             " outputs, but the module returns " + std::to_string(outputs.size()) +
                             "; return them all (std::optional<std::vector<Tensor>>) or std::nullopt to keep them");
        }
        outputs = std::move(*result);
    }
    return outputs;
}

void Module::refuse_single_output_hook(std::size_t outputs) const {
    throw TypeError(name() + " returns " + std::to_string(outputs) +
                    " tensors, but a forward hook registered on it takes one `const Tensor& output`; take "
                    "`const std::vector<Tensor>& outputs` to see them all");
}

void Module::refuse_replaced_inputs() const {
    throw NotImplementedError(name() +
                              ": a forward pre-hook replaced the inputs, but this module's call does not take replaced "
                              "inputs (its call_with_hooks body takes no arguments)");
}

HookHandle Module::add_forward_pre_hook(ReplacingForwardPreHook hook, bool prepend) {
    const std::uint64_t id = next_hook_id_++;
    if (prepend)
        pre_hooks_.insert(pre_hooks_.begin(), {id, std::move(hook)});
    else
        pre_hooks_.push_back({id, std::move(hook)});
    return module_hook_handle(id);
}

HookHandle Module::add_forward_hook(ReplacingForwardHook hook, bool prepend) {
    const std::uint64_t id = next_hook_id_++;
    if (prepend)
        hooks_.insert(hooks_.begin(), {id, std::move(hook)});
    else
        hooks_.push_back({id, std::move(hook)});
    return module_hook_handle(id);
}

HookHandle Module::register_load_state_dict_pre_hook(LoadStateDictPreHook hook) {
    const std::uint64_t id = next_hook_id_++;
    load_pre_hooks_.push_back({id, std::move(hook)});
    return module_hook_handle(id);
}

void Module::remove_hook(std::uint64_t id) {
    std::erase_if(pre_hooks_, [id](const auto& h) { return h.id == id; });
    std::erase_if(hooks_, [id](const auto& h) { return h.id == id; });
    std::erase_if(load_pre_hooks_, [id](const auto& h) { return h.id == id; });
}

HookHandle Module::module_hook_handle(std::uint64_t id) {
    return HookHandle(id, [alive = std::weak_ptr<int>(alive_), this, id] {
        if (alive.lock()) remove_hook(id);
    });
}

void Module::check_input_dtype(const Tensor& input, const Tensor& param, const char* torch_says) const {
    if (!input.defined()) return;
    const Dtype got = input.dtype();
    const bool known = param.defined() && !param.is_uninitialized();
    if (known && got == param.dtype()) return;
    if (!known && is_floating(got)) return;
    // Under autocast the op's casting policy decides the dtypes it computes in (PyTorch casts first).
    if (known && is_floating(got) && is_floating(param.dtype()) && is_autocast_enabled()) return;
    const std::string expected = known ? dtype_name(param.dtype()) : std::string("floating point");
    std::string message =
        name() + ": expected a " + expected + " input (the dtype of its parameters), got " + dtype_name(got);
    if (torch_says) message += std::string(" (PyTorch: ") + torch_says + ")";
    if (known && is_floating(got)) {
        message += "; convert the input with .to(" + dtype_name(param.dtype()) + ") or the module with .to(" +
                   dtype_name(got) + ")";
    } else if (known) {
        message += "; convert the input with .to(" + dtype_name(param.dtype()) + ")";
    }
    throw DtypeError(message);
}

// ---- modes and bulk operations ----

Module& Module::train(bool mode) {
    training_ = mode;
    for (Module* child : children()) child->train(mode);
    return *this;
}

Module& Module::apply(const std::function<void(Module&)>& fn) {
    for (Module* child : children()) child->apply(fn);
    fn(*this);
    return *this;
}

void Module::zero_grad(bool set_to_none) {
    for (auto& p : parameters()) {
        Tensor g = p.grad();
        if (!g.defined()) continue;
        if (set_to_none) {
            p.set_grad(Tensor());
        } else {
            NoGradGuard no_grad;
            g.detach_();
            g.zero_();
        }
    }
}

namespace {
/// Converts a floating tensor's data in place so every handle sees the new dtype.
void convert_in_place(const Tensor& t, Dtype dtype) {
    TensorImpl& impl = t.impl();
    if (!is_floating(impl.dtype) || impl.dtype == dtype) return;
    if (impl.uninitialized()) {
        impl.dtype = dtype;
        return;
    }
    Tensor converted;
    {
        NoGradGuard no_grad;
        converted = detail::contiguous_data(t.detach()).to(dtype);
    }
    const TensorImpl& c = converted.impl();
    impl.storage = c.storage;
    impl.strides = c.strides;
    impl.offset = c.offset;
    impl.dtype = dtype;
    if (impl.grad.defined()) impl.grad = impl.grad.to(dtype);
}
}  // namespace

Module& Module::to(Dtype dtype) {
    if (!is_floating(dtype)) {
        throw TypeError("nn.Module.to only accepts floating point dtypes, but got desired dtype=" + dtype_name(dtype));
    }
    for (auto& p : parameters()) convert_in_place(p, dtype);
    for (auto& b : buffers()) convert_in_place(b, dtype);
    return *this;
}

Module& Module::requires_grad_(bool requires_grad) {
    for (auto& p : parameters()) {
        if (p.is_uninitialized()) detail::throw_uninitialized(p.impl(), "requires_grad_");
        p.impl().requires_grad = requires_grad;
    }
    return *this;
}

// ---- lazy life cycle ----

bool Module::is_lazy() const {
    // Module holds no lazy state: a lazy module is one that also derives LazyModule.
    const auto* lazy = dynamic_cast<const LazyModule*>(this);
    return lazy && lazy->pending();
}

bool Module::has_uninitialized_params() const {
    for (const auto& s : registry_->params) {
        if (s.get() && lazynn::is_lazy(*s.get())) return true;
    }
    for (const auto& s : registry_->buffers) {
        if (s.get() && lazynn::is_lazy(*s.get())) return true;
    }
    return false;
}

void Module::initialize(const Tensor& sample) {
    dry_run([&] { call({sample}); });  // call(): a TypedModule's typed forward, through a Module& too
}

void Module::dry_run(const std::function<void()>& pass) {
    // A dry run only materialises: everything else it could change is put back, on failure too.
    struct Restore {
        Module* root = nullptr;
        std::vector<std::pair<Module*, bool>> modes;
        std::vector<std::pair<Tensor, Tensor>> buffers;  // (the buffer, a copy of its values)
        Generator generator = default_generator();
        ~Restore() {
            for (auto [m, training] : modes) m->training_ = training;
            // Modules the run created (a parametrization attached after materialising) take their
            // parent's restored mode, as if they had been there before the run's eval().
            const std::function<void(Module&)> inherit = [&](Module& parent) {
                for (Module* child : parent.children()) {
                    const bool known = std::any_of(modes.begin(), modes.end(),
                                                   [child](const auto& entry) { return entry.first == child; });
                    if (!known) child->training_ = parent.training_;
                    inherit(*child);
                }
            };
            inherit(*root);
            NoGradGuard no_grad;
            for (auto& [b, saved] : buffers) {
                try {
                    if (b.shape() == saved.shape()) b.copy_(saved);
                } catch (...) {  // a buffer the run replaced with another geometry: leave it
                }
            }
            default_generator() = generator;
        }
    } restore;
    restore.root = this;
    for (auto& [path, m] : named_modules()) restore.modes.emplace_back(m, m->training_);
    {
        NoGradGuard no_grad;
        for (auto& b : buffers()) {
            if (!b.is_uninitialized()) restore.buffers.emplace_back(b, b.clone());
        }
    }
    eval();
    NoGradGuard no_grad;
    pass();
}

// ---- naming ----

std::string Module::name() const {
    if (!name_.empty()) return name_;
    std::string full = class_name(typeid(*this));
    // A Member<M> (lazynn/member.hpp) is named as its M, the class the user wrote.
    constexpr std::string_view member_wrapper = "lazynn::Member<";
    if (full.starts_with(member_wrapper) && full.ends_with('>'))
        full = full.substr(member_wrapper.size(), full.size() - member_wrapper.size() - 1);
    return without_scopes(full);
}

}  // namespace lazynn
