// state_dict() and load_state_dict() with PyTorch's key layout and error report.
#include "module_registry.hpp"
#include "tensor_impl.hpp"

#include <lazynn/autograd.hpp>

namespace lazynn {
namespace {

std::string torch_size(const Shape& shape) {
    std::string s = "torch.Size([";
    for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "])";
}

std::string quoted_list(const std::vector<std::string>& keys) {
    std::string s;
    for (std::size_t i = 0; i < keys.size(); ++i) s += (i ? ", \"" : "\"") + keys[i] + "\"";
    return s;
}

/// True when every value of a floating tensor is finite and inside int64's range.
bool representable_as_int64(const Tensor& t) {
    for (const double v : t.to_vector<double>()) {
        if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) return false;
    }
    return true;
}

}  // namespace

StateDict Module::state_dict(const std::string& prefix, bool keep_vars) const {
    StateDict out;
    std::function<void(const Module&, const std::string&)> visit = [&](const Module& m, const std::string& p) {
        for (const auto& slot : m.registry_->params) {
            const Parameter* param = slot.get();
            if (!param || !param->defined()) continue;
            out.insert(p + slot.name, keep_vars || lazynn::is_lazy(*param) ? Tensor(*param) : param->detach());
        }
        for (const auto& slot : m.registry_->buffers) {
            const Buffer* buf = slot.get();
            if (!buf || !buf->defined() || !slot.persistent) continue;
            out.insert(p + slot.name, keep_vars || lazynn::is_lazy(*buf) ? Tensor(*buf) : buf->detach());
        }
        for (const auto& slot : m.registry_->children) {
            if (const Module* child = slot.get()) visit(*child, p + slot.name + ".");
        }
    };
    visit(*this, prefix);
    return out;
}

void Module::load_recursive(const StateDict& state, const std::string& prefix, IncompatibleKeys& keys,
                            std::vector<std::string>& errors) {
    const auto hooks = load_pre_hooks_;  // the lazy hook removes itself when it finishes the module
    for (const auto& h : hooks) {
        try {
            h.fn(*this, state, prefix);
        } catch (const Error& e) {
            // A lazy module checks the shapes it materialised; say which keys and module were at fault.
            throw RuntimeError("Error(s) in loading state_dict for " + name() + " (keys '" + prefix +
                               "*'): " + e.what());
        }
    }

    std::vector<std::pair<std::string, Tensor>> local;
    for (const auto& slot : registry_->params) {
        if (slot.get() && slot.get()->defined()) local.emplace_back(slot.name, *slot.get());
    }
    for (const auto& slot : registry_->buffers) {
        if (slot.get() && slot.get()->defined() && slot.persistent) local.emplace_back(slot.name, *slot.get());
    }

    for (auto& [name, dest] : local) {
        const std::string key = prefix + name;
        if (!state.contains(key)) {
            keys.missing_keys.push_back(key);
            continue;
        }
        const Tensor& source = state.at(key);
        if (!source.defined()) {
            errors.push_back("While copying the parameter named \"" + key +
                             "\", expected torch.Tensor or Tensor-like object from checkpoint but received NoneType");
            continue;
        }
        if (lazynn::is_lazy(dest)) {
            // A lazy module's load hook has materialised everything it could; what is left has an
            // uninitialised source (nothing to copy) or belongs to a module that is not lazy.
            if (!lazynn::is_lazy(source)) {
                errors.push_back("While copying the parameter named \"" + key +
                                 "\", whose dimensions in the model are torch.Size([0]) and whose dimensions in the "
                                 "checkpoint are " +
                                 torch_size(source.shape()) +
                                 ", an exception occurred : the parameter is uninitialized and " + this->name() +
                                 " is not a lazy module; call materialize() on it first.");
            }
            continue;
        }
        if (lazynn::is_lazy(source)) (void)source.shape();  // throws PyTorch's "Can't access the shape ..." directly
        if (source.shape() != dest.shape()) {
            errors.push_back("size mismatch for " + key + ": copying a param with shape " + torch_size(source.shape()) +
                             " from checkpoint, the shape in current model is " + torch_size(dest.shape()) + ".");
            continue;
        }
        if (dest.dtype() == kInt64 && source.dtype() != kInt64 && !representable_as_int64(source)) {
            // Converting NaN, inf or an out-of-range float to an integer is undefined behaviour.
            errors.push_back("While copying the parameter named \"" + key +
                             "\": the checkpoint holds non-finite or out-of-range " + dtype_name(source.dtype()) +
                             " values for an int64 tensor");
            continue;
        }
        NoGradGuard no_grad;
        dest.copy_(source);
    }

    for (const auto& [key, value] : state) {
        if (key.compare(0, prefix.size(), prefix) != 0) continue;
        const std::string rest = key.substr(prefix.size());
        const std::size_t dot = rest.find('.');
        if (dot != std::string::npos) {
            const std::string head = rest.substr(0, dot);
            const bool is_child = std::any_of(registry_->children.begin(), registry_->children.end(),
                                              [&](const auto& s) { return s.name == head && s.get(); });
            if (!is_child) keys.unexpected_keys.push_back(key);
        } else {
            const bool is_local =
                std::any_of(local.begin(), local.end(), [&](const auto& l) { return l.first == rest; });
            if (!is_local) keys.unexpected_keys.push_back(key);
        }
    }

    for (const auto& slot : registry_->children) {
        if (Module* child = slot.get()) child->load_recursive(state, prefix + slot.name + ".", keys, errors);
    }
}

IncompatibleKeys Module::load_state_dict(const StateDict& state, bool strict) {
    IncompatibleKeys keys;
    std::vector<std::string> errors;
    load_recursive(state, "", keys, errors);
    if (strict) {
        if (!keys.unexpected_keys.empty())
            errors.insert(errors.begin(),
                          "Unexpected key(s) in state_dict: " + quoted_list(keys.unexpected_keys) + ". ");
        if (!keys.missing_keys.empty())
            errors.insert(errors.begin(), "Missing key(s) in state_dict: " + quoted_list(keys.missing_keys) + ". ");
    }
    if (!errors.empty()) {
        std::string message = "Error(s) in loading state_dict for " + name() + ":";
        for (const auto& e : errors) message += "\n\t" + e;
        throw RuntimeError(message);
    }
    return keys;
}

std::string IncompatibleKeys::str() const {
    if (ok()) return "<All keys matched successfully>";
    auto list = [](const std::vector<std::string>& v) {
        std::string s = "[";
        for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", '" : "'") + v[i] + "'";
        return s + "]";
    };
    return "_IncompatibleKeys(missing_keys=" + list(missing_keys) + ", unexpected_keys=" + list(unexpected_keys) + ")";
}

}  // namespace lazynn
