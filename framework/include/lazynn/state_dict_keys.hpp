#pragma once
// Renaming state_dict keys by a prefix: checkpoints saved from a wrapper (PyTorch's DDP writes
// "module.fc.weight", Lightning "model.fc.weight") load into the bare model after strip_prefix,
// and the other way round with add_prefix.
//
//   StateDict sd = serialize::load_safetensors("ddp.safetensors").tensors;
//   model.load_state_dict(strip_prefix(sd, "module."));

#include <lazynn/module.hpp>

#include <string>

namespace lazynn {

/// The keys that start with `prefix` lose it; the others are kept unchanged (PyTorch's
/// consume_prefix_in_state_dict_if_present). Order is kept. Throws KeyError when two keys
/// become one ("module.w" and "w").
inline StateDict strip_prefix(const StateDict& state, const std::string& prefix) {
    StateDict out;
    for (const auto& [key, value] : state) {
        const bool has = key.compare(0, prefix.size(), prefix) == 0;
        std::string renamed = has ? key.substr(prefix.size()) : key;
        if (out.contains(renamed)) {
            throw KeyError("strip_prefix: removing '" + prefix + "' from '" + key + "' gives '" + renamed +
                           "', which is already a key");
        }
        out.insert(renamed, value);
    }
    return out;
}

/// Every key gains `prefix` in front. Order is kept.
inline StateDict add_prefix(const StateDict& state, const std::string& prefix) {
    StateDict out;
    for (const auto& [key, value] : state) out.insert(prefix + key, value);
    return out;
}

}  // namespace lazynn
