#pragma once
// Helpers of the all-or-nothing loaders (load_checkpoint, Checkpoint::load).
#include <lazynn/module.hpp>

#include <string>

namespace lazynn::detail {

/// A copy that later loads cannot alter (state_dict() shares storage with the live tensors);
/// uninitialised entries are left out, as there is nothing to restore for them.
inline StateDict snapshot(const StateDict& sd) {
    StateDict out;
    for (const auto& [k, v] : sd) {
        if (v.defined() && !lazynn::is_lazy(v)) out.insert(k, v.detach().clone());
    }
    return out;
}

/// The entries whose key starts with `prefix`, without it (the others are left out).
inline StateDict part_with_prefix(const StateDict& sd, const std::string& prefix) {
    StateDict out;
    for (const auto& [k, v] : sd) {
        if (k.compare(0, prefix.size(), prefix) == 0) out.insert(k.substr(prefix.size()), v);
    }
    return out;
}

}  // namespace lazynn::detail
