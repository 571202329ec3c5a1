// Parametrizations: ParametrizationList, registration, removal, caching and the per-call refresh.
#include "module_registry.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>
#include <lazynn/parametrize.hpp>

#include <algorithm>
#include <atomic>
#include <utility>
#include <unordered_map>

namespace lazynn {
namespace parametrize {
namespace {

constexpr const char* kDictName = "parametrizations";
constexpr const char* kPrefix = "Parametrized";

/// `module.parametrizations`, printed as PyTorch's ModuleDict.
class ParametrizationDict final : public Cloneable<ParametrizationDict> {
public:
    ParametrizationDict() { set_name("ModuleDict"); }
};

/// Parametrized values computed inside the current Cached scope, by list id (thread-local).
struct CacheScope {
    int depth = 0;
    std::unordered_map<std::uint64_t, Tensor> values;
};
thread_local CacheScope cache;
std::atomic<std::uint64_t> next_list_id{1};

std::string torch_dtype(Dtype d) { return "torch." + dtype_name(d); }

std::string torch_size(const Shape& shape) {
    std::string s = "torch.Size([";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "])";
}

/// Makes `dst` (every handle to it) hold `src`'s data: PyTorch's `dst.set_(src)` under no_grad,
/// which keeps the tensor object that optimizers and parameter lists hold.
void set_data(const Tensor& dst, const Tensor& src) {
    if (dst.is_same(src)) return;
    TensorImpl& d = dst.impl();
    const TensorImpl& s = src.impl();
    d.storage = s.storage;
    d.shape = s.shape;
    d.strides = s.strides;
    d.offset = s.offset;
    d.dtype = s.dtype;
}

/// The one tensor a parametrization's call returned.
Tensor single_output(const Module& parametrization, std::vector<Tensor> outputs) {
    if (outputs.size() != 1) {
        throw ValueError("A parametrization must return a tensor. Got " + std::to_string(outputs.size()) +
                         " tensors from " + parametrization.name());
    }
    return std::move(outputs[0]);
}

std::optional<std::vector<Tensor>> right_inverse_of(Module& parametrization, const Tensor& value) {
    auto* p = dynamic_cast<Parametrization*>(&parametrization);
    return p ? p->right_inverse(value) : std::nullopt;
}

void attach(Module& parametrization, const Tensor& value) {
    if (auto* p = dynamic_cast<Parametrization*>(&parametrization)) p->attach(value);
}

}  // namespace

void Parametrization::attach(const Tensor&) {}

std::optional<std::vector<Tensor>> Parametrization::right_inverse(const Tensor&) { return std::nullopt; }

// ---- ParametrizationList ----

ParametrizationList::ParametrizationList(std::unique_ptr<Module> first, const Tensor& original, bool is_parameter,
                                         bool unsafe)
    : unsafe_(unsafe), id_(next_list_id++) {
    set_name("ParametrizationList");
    // A copy: right_inverse may replace the original's data (and shape) below.
    const Shape shape = original.shape();  // NOLINT(performance-unnecessary-copy-initialization)
    const Dtype dtype = original.dtype();
    Module& p = register_module("0", std::move(first));
    std::vector<Tensor> originals;
    {
        NoGradGuard no_grad;
        attach(p, original);
        originals = right_inverse_of(p, original).value_or(std::vector<Tensor>{original});
    }
    if (originals.empty()) {
        throw ValueError(
            "'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). Got none from " +
            p.name());
    }
    is_tensor_ = originals.size() == 1;
    num_originals_ = originals.size();
    if (is_tensor_) {
        if (originals[0].dtype() != dtype) {
            throw ValueError("When `right_inverse` outputs one tensor, it may not change the dtype.\noriginal.dtype: " +
                             torch_dtype(dtype) +
                             "\nright_inverse(original).dtype: " + torch_dtype(originals[0].dtype()));
        }
        // The same tensor object stays the original, so whoever holds it keeps training it.
        set_data(original, originals[0]);
        detail::ParametrizeAccess::register_same_tensor(*this, "original", original, is_parameter);
    } else {
        for (std::size_t i = 0; i < originals.size(); ++i) {
            const std::string name = "original" + std::to_string(i);
            Tensor data = originals[i].detach();
            if (is_parameter) {
                register_parameter(name, data, original.requires_grad());
            } else {
                data.requires_grad_(original.requires_grad());
                register_buffer(name, data);
            }
        }
    }
    if (!unsafe_) {
        const Tensor z = first_value_ = value();
        if (z.dtype() != dtype) {
            throw ValueError(
                "Registering a parametrization may not change the dtype of the tensor, unless `unsafe` flag is "
                "enabled.\nunparametrized dtype: " +
                torch_dtype(dtype) + "\nparametrized dtype: " + torch_dtype(z.dtype()));
        }
        if (z.shape() != shape) {
            throw ValueError(
                "Registering a parametrization may not change the shape of the tensor, unless `unsafe` flag is "
                "enabled.\nunparametrized shape: " +
                torch_size(shape) + "\nparametrized shape: " + torch_size(z.shape()));
        }
    }
}

// A copy computes and caches on its own.
ParametrizationList::ParametrizationList(const ParametrizationList& other)
    : Cloneable<ParametrizationList>(other),
      is_tensor_(other.is_tensor_),
      num_originals_(other.num_originals_),
      unsafe_(other.unsafe_),
      id_(next_list_id++) {}

Module& ParametrizationList::at(std::size_t index) {
    if (index >= size()) {
        throw IndexError("ParametrizationList: index " + std::to_string(index) + " is out of range (it holds " +
                         std::to_string(size()) + ")");
    }
    return *registered_child(index);
}

Tensor ParametrizationList::original(std::size_t index) const {
    if (index >= num_originals_) {
        throw IndexError("ParametrizationList: original " + std::to_string(index) + " is out of range (it has " +
                         std::to_string(num_originals_) + ")");
    }
    // Called on every call of the parametrized module: the registered slots are searched in place
    // (named_parameters would build a vector of names each time). A parametrized buffer's
    // originals are buffers: the rare case takes the general path.
    const std::string name = is_tensor_ ? std::string("original") : "original" + std::to_string(index);
    for (std::size_t i = 0; i < num_registered_parameters(); ++i) {
        if (registered_parameter_name(i) == name) return registered_parameter(i);
    }
    for (const auto& [n, b] : named_buffers("", false)) {
        if (n == name) return b;
    }
    throw AttributeError("ParametrizationList has no `" + name + "`");
}

Tensor ParametrizationList::value() {
    if (cache.depth > 0) {
        if (auto it = cache.values.find(id_); it != cache.values.end()) return it->second;
    }
    std::vector<Tensor> originals;
    originals.reserve(num_originals_);
    for (std::size_t i = 0; i < num_originals_; ++i) originals.push_back(original(i));
    Module& first = at(0);
    Tensor x = single_output(first, first.call(originals));
    for (std::size_t i = 1; i < size(); ++i) {
        Module& next = at(i);
        x = single_output(next, next.call({x}));
    }
    if (cache.depth > 0) cache.values.emplace(id_, x);
    return x;
}

void ParametrizationList::right_inverse(const Tensor& value) {
    NoGradGuard no_grad;
    std::vector<Tensor> current{value};
    for (std::size_t i = size(); i-- > 0;) {
        Module& p = at(i);
        if (current.size() != 1) {
            throw ValueError("`right_inverse` of the parametrization after " + p.name() +
                             " must return a tensor. Got " + std::to_string(current.size()));
        }
        std::optional<std::vector<Tensor>> r = right_inverse_of(p, current[0]);
        if (!r) throw RuntimeError("parametrization " + p.name() + " does not implement right_inverse.");
        current = std::move(*r);
    }
    if (is_tensor_) {
        if (current.size() != 1) {
            throw ValueError("`right_inverse` should return a tensor. Got " + std::to_string(current.size()) +
                             " tensors");
        }
        const Tensor orig = original();
        if (current[0].dtype() != orig.dtype()) {
            throw ValueError("The tensor returned by `right_inverse` has dtype " + torch_dtype(current[0].dtype()) +
                             " while `original` has dtype " + torch_dtype(orig.dtype()));
        }
        set_data(orig, current[0].detach());
    } else {
        if (current.size() != num_originals_) {
            throw ValueError("'right_inverse' must return a sequence of tensors of length " +
                             std::to_string(num_originals_) + ". Got a sequence of length " +
                             std::to_string(current.size()) + ".");
        }
        for (std::size_t i = 0; i < current.size(); ++i) {
            const Tensor orig = original(i);
            if (current[i].dtype() != orig.dtype()) {
                throw ValueError("Tensor " + std::to_string(i) + " returned by `right_inverse` has dtype " +
                                 torch_dtype(current[i].dtype()) + " while `original" + std::to_string(i) +
                                 "` has dtype " + torch_dtype(orig.dtype()));
            }
            set_data(orig, current[i].detach());
        }
    }
    cache.values.erase(id_);
}

void ParametrizationList::append(std::unique_ptr<Module> next, bool unsafe) {
    register_module(std::to_string(size()), std::move(next));
    unsafe_ = unsafe_ || unsafe;
    cache.values.erase(id_);
}

// ---- free functions ----

Module& register_parametrization(Module& module, const std::string& tensor_name,
                                 std::unique_ptr<Module> parametrization, bool unsafe) {
    return detail::ParametrizeAccess::register_parametrization(module, tensor_name, std::move(parametrization), unsafe);
}

bool is_parametrized(const Module& module, const std::string& tensor_name) {
    return detail::ParametrizeAccess::is_parametrized(module, tensor_name);
}

Module& remove_parametrizations(Module& module, const std::string& tensor_name, bool leave_parametrized) {
    return detail::ParametrizeAccess::remove_parametrizations(module, tensor_name, leave_parametrized);
}

ParametrizationList& parametrizations(Module& module, const std::string& tensor_name) {
    return detail::ParametrizeAccess::list(module, tensor_name);
}

std::string type_before_parametrizations(const Module& module) {
    std::string name = module.name();
    if (is_parametrized(module) && name.starts_with(kPrefix)) name.erase(0, std::string_view(kPrefix).size());
    return name;
}

Cached::Cached() { ++cache.depth; }

Cached::~Cached() {
    if (--cache.depth == 0) cache.values.clear();
}

}  // namespace parametrize

// ---- access to the registry ----

namespace detail {
using parametrize::attach;
using parametrize::cache;
using parametrize::kDictName;
using parametrize::kPrefix;
using parametrize::ParametrizationDict;
using parametrize::right_inverse_of;
using parametrize::set_data;
using parametrize::single_output;
using parametrize::torch_dtype;
using parametrize::torch_size;

namespace {

template <class Slots>
auto find_named(Slots& slots, const std::string& name) {
    return std::find_if(slots.begin(), slots.end(), [&](const auto& s) { return s.name == name; });
}

/// The child `name` of a registry, or null. (Registry is deduced: its name is Module's.)
template <class Registry>
Module* child_of(Registry& r, const std::string& name) {
    auto it = find_named(r.children, name);
    return it == r.children.end() ? nullptr : it->get();
}

template <class Registry>
bool has_pending(const Registry& r, const std::string& name) {
    return std::any_of(r.pending_parametrizations.begin(), r.pending_parametrizations.end(),
                       [&](const auto& p) { return p.name == name; });
}

/// Writes each parametrized tensor's value into its member slot (on every call of the module:
/// the lists are found in the dict's registry, without building paths).
template <class Slots, class Registry>
void write_values(Slots& slots, Registry& dict) {
    for (auto& slot : slots) {
        Module* list = child_of(dict, slot.name);
        if (!list) throw RuntimeError("parametrizations: no ParametrizationList for `" + slot.name + "`");
        if (auto* member = slot.get())
            static_cast<Tensor&>(*member) = static_cast<parametrize::ParametrizationList&>(*list).value();
    }
}

/// Writes `value` into the member of parametrized tensor `name`.
template <class Registry>
void write_value(Registry& r, const std::string& name, const Tensor& value) {
    if (auto it = find_named(r.parametrized_params, name); it != r.parametrized_params.end() && it->get())
        static_cast<Tensor&>(*it->get()) = value;
    if (auto it = find_named(r.parametrized_buffers, name); it != r.parametrized_buffers.end() && it->get())
        static_cast<Tensor&>(*it->get()) = value;
}

}  // namespace

void ParametrizeAccess::register_same_tensor(Module& module, const std::string& name, const Tensor& tensor,
                                             bool is_parameter) {
    auto& r = *module.registry_;
    if (is_parameter) {
        auto& slot = r.params.emplace_back();
        slot.name = name;
        slot.owned = std::make_unique<Parameter>();
        static_cast<Tensor&>(*slot.owned) = tensor;  // the same tensor object, not an alias
    } else {
        auto& slot = r.buffers.emplace_back();
        slot.name = name;
        slot.owned = std::make_unique<Buffer>();
        static_cast<Tensor&>(*slot.owned) = tensor;
    }
}

Module& ParametrizeAccess::register_parametrization(Module& module, const std::string& tensor_name,
                                                    std::unique_ptr<Module> parametrization, bool unsafe) {
    using parametrize::ParametrizationList;
    if (!parametrization) {
        throw ValueError("register_parametrization(" + module.name() + ", '" + tensor_name +
                         "'): the parametrization is null");
    }
    auto& r = *module.registry_;
    parametrization->train(module.is_training());

    // Behind a pending one: wait for the same materialisation, keeping the order.
    if (has_pending(r, tensor_name)) {
        r.pending_parametrizations.push_back({tensor_name, std::move(parametrization), unsafe});
        return module;
    }

    // Already parametrized: the new one maps the current value.
    const bool parametrized = find_named(r.parametrized_params, tensor_name) != r.parametrized_params.end() ||
                              find_named(r.parametrized_buffers, tensor_name) != r.parametrized_buffers.end();
    if (parametrized) {
        ParametrizationList& chain = list(module, tensor_name);
        const Tensor y = chain.value();
        {
            NoGradGuard no_grad;
            attach(*parametrization, y);
        }
        // Called once even when unsafe, so one that cannot follow another fails here, not in forward.
        const Tensor x = single_output(*parametrization, parametrization->call({y}));
        if (!unsafe) {
            if (x.dtype() != y.dtype()) {
                throw ValueError(
                    "Registering a parametrization may not change the dtype of the tensor, unless the `unsafe` flag "
                    "is enabled.\nmodule." +
                    tensor_name + ".dtype: " + torch_dtype(y.dtype()) + "\nparametrization(module." + tensor_name +
                    ").dtype: " + torch_dtype(x.dtype()));
            }
            if (x.shape() != y.shape()) {
                throw ValueError(
                    "Registering a parametrization may not change the shape of the tensor, unless the `unsafe` flag "
                    "is enabled.\nmodule." +
                    tensor_name + ".shape: " + torch_size(y.shape()) + "\nparametrization(module." + tensor_name +
                    ").shape: " + torch_size(x.shape()));
            }
            NoGradGuard no_grad;
            if (std::optional<std::vector<Tensor>> z = right_inverse_of(*parametrization, x)) {
                if (z->size() != 1) {
                    throw ValueError("parametrization.right_inverse must return a tensor. Got: " +
                                     std::to_string(z->size()) + " tensors");
                }
                const Tensor& zt = (*z)[0];
                if (zt.dtype() != y.dtype()) {
                    throw ValueError(
                        "The tensor returned by parametrization.right_inverse must have the same dtype as module." +
                        tensor_name + ", unless the `unsafe` flag is enabled.\nmodule." + tensor_name +
                        ".dtype: " + torch_dtype(y.dtype()) + "\nreturned dtype: " + torch_dtype(zt.dtype()));
                }
                if (zt.shape() != y.shape()) {
                    throw ValueError(
                        "The tensor returned by parametrization.right_inverse must have the same shape as module." +
                        tensor_name + ", unless the `unsafe` flag is enabled.\nmodule." + tensor_name +
                        ".shape: " + torch_size(y.shape()) + "\nreturned shape: " + torch_size(zt.shape()));
                }
            }
        }
        chain.append(std::move(parametrization), unsafe);
        write_value(r, tensor_name, x);  // the new chain's value: nothing runs twice
        return module;
    }

    auto param = find_named(r.params, tensor_name);
    auto buffer = find_named(r.buffers, tensor_name);
    const bool is_parameter = param != r.params.end();
    if (!is_parameter && buffer == r.buffers.end()) {
        throw ValueError("Module '" + module.name() + "' does not have a parameter, a buffer, or a parametrized " +
                         "element with name '" + tensor_name + "'");
    }
    const Tensor* tensor = is_parameter ? static_cast<const Tensor*>(param->get()) : buffer->get();
    if (!tensor || !tensor->defined()) {
        throw ValueError("Module '" + module.name() + "': '" + tensor_name +
                         "' is registered as None (no tensor); there is nothing to parametrize");
    }
    // Uninitialised (a lazy module before its first forward): attach after it materialises.
    if (tensor->is_uninitialized()) {
        r.pending_parametrizations.push_back({tensor_name, std::move(parametrization), unsafe});
        return module;
    }

    auto chain = std::make_unique<ParametrizationList>(std::move(parametrization), *tensor, is_parameter, unsafe);
    // The slot leaves the traversals; the member object stays where forward reads it.
    if (is_parameter) {
        r.parametrized_params.push_back(std::move(*param));
        r.params.erase(param);
    } else {
        r.parametrized_buffers.push_back(std::move(*buffer));
        r.buffers.erase(buffer);
    }
    Module* dict = child_of(r, kDictName);
    if (!dict) {
        const std::string before = module.name();
        dict = &module.register_module(kDictName, std::make_unique<ParametrizationDict>());
        module.set_name(kPrefix + before);
    }
    Tensor first = std::exchange(chain->first_value_, Tensor());
    if (!first.defined()) first = chain->value();  // unsafe: nothing computed yet
    dict->register_module(tensor_name, std::move(chain));
    write_value(r, tensor_name, first);
    return module;
}

void ParametrizeAccess::refresh(Module& module) {
    auto& r = *module.registry_;
    if (!r.pending_parametrizations.empty()) {
        auto pending = std::move(r.pending_parametrizations);
        r.pending_parametrizations.clear();
        for (std::size_t i = 0; i < pending.size(); ++i) {
            try {
                register_parametrization(module, pending[i].name, std::move(pending[i].parametrization),
                                         pending[i].unsafe);
            } catch (...) {
                // The ones not reached stay pending, behind any that registered again as pending.
                for (std::size_t j = i + 1; j < pending.size(); ++j)
                    r.pending_parametrizations.push_back(std::move(pending[j]));
                throw;
            }
        }
    }
    if (r.parametrized_params.empty() && r.parametrized_buffers.empty()) return;
    Module* dict = child_of(r, kDictName);
    if (!dict) throw RuntimeError(module.name() + ": parametrized tensors without `parametrizations`");
    write_values(r.parametrized_params, *dict->registry_);
    write_values(r.parametrized_buffers, *dict->registry_);
}

bool ParametrizeAccess::is_parametrized(const Module& module, const std::string& tensor_name) {
    const auto& r = *module.registry_;
    if (tensor_name.empty()) return r.has_parametrizations();
    return has_pending(r, tensor_name) ||
           find_named(r.parametrized_params, tensor_name) != r.parametrized_params.end() ||
           find_named(r.parametrized_buffers, tensor_name) != r.parametrized_buffers.end();
}

parametrize::ParametrizationList& ParametrizeAccess::list(Module& module, const std::string& tensor_name) {
    auto& r = *module.registry_;
    if (has_pending(r, tensor_name)) {
        throw ValueError("Module " + module.name() + ": the parametrization on " + tensor_name +
                         " is pending until the tensor materialises (run a forward first)");
    }
    Module* dict = child_of(r, kDictName);
    Module* chain = dict ? child_of(*dict->registry_, tensor_name) : nullptr;
    if (!chain) throw ValueError("Module " + module.name() + " does not have a parametrization on " + tensor_name);
    return static_cast<parametrize::ParametrizationList&>(*chain);
}

Module& ParametrizeAccess::remove_parametrizations(Module& module, const std::string& tensor_name,
                                                   bool leave_parametrized) {
    if (!is_parametrized(module, tensor_name)) {
        throw ValueError("Module " + module.name() + " does not have a parametrization on " + tensor_name);
    }
    auto& r = *module.registry_;
    if (has_pending(r, tensor_name)) {  // never applied: the tensor is as it was
        std::erase_if(r.pending_parametrizations, [&](const auto& p) { return p.name == tensor_name; });
        return module;
    }
    parametrize::ParametrizationList& chain = list(module, tensor_name);
    Tensor restored;
    if (chain.is_tensor()) {
        restored = chain.original();
        if (leave_parametrized) {
            Tensor t;
            {
                NoGradGuard no_grad;
                t = chain.value();
            }
            if (t.dtype() != restored.dtype()) {
                throw ValueError("remove_parametrizations(" + module.name() + ", '" + tensor_name +
                                 "') with leave_parametrized=true: the parametrization changes the dtype (" +
                                 torch_dtype(restored.dtype()) + " to " + torch_dtype(t.dtype()) +
                                 "); pass leave_parametrized=false");
            }
            set_data(restored, t);
        }
    } else {
        if (!leave_parametrized) {
            throw ValueError(
                "Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in terms of a "
                "sequence of tensors.");
        }
        const Tensor t = chain.value();
        NoGradGuard no_grad;
        restored = t.detach().clone();
        restored.impl().requires_grad = t.requires_grad();
    }
    // Back into the traversals, after the module's other tensors (PyTorch registers it again).
    const auto put_back = [&](auto& parametrized, auto& slots) {
        auto it = find_named(parametrized, tensor_name);
        if (it == parametrized.end()) return;
        if (auto* member = it->get()) static_cast<Tensor&>(*member) = restored;
        slots.push_back(std::move(*it));
        parametrized.erase(it);
    };
    put_back(r.parametrized_params, r.params);
    put_back(r.parametrized_buffers, r.buffers);
    cache.values.erase(chain.id_);

    Module* dict = child_of(r, kDictName);
    std::erase_if(dict->registry_->children, [&](const auto& s) { return s.name == tensor_name; });
    if (dict->registry_->children.empty()) {
        std::string before = module.name();
        if (before.starts_with(kPrefix)) before.erase(0, std::string_view(kPrefix).size());
        std::erase_if(r.children, [](const auto& s) { return s.name == kDictName; });
        module.set_name(before);
    }
    return module;
}

}  // namespace detail
}  // namespace lazynn
