// Checkpoint: named models, optimizers, schedulers and generators in one safetensors file.
#include "state_snapshot.hpp"

#include <lazynn/checkpoint.hpp>
#include <lazynn/error.hpp>
#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizer.hpp>
#include <lazynn/serialize.hpp>
#include <lazynn/state_dict_keys.hpp>

#include <type_traits>

namespace lazynn {

namespace {

constexpr const char* kFormat = "lazynn-checkpoint";

template <class T>
constexpr const char* kind_of() {
    if constexpr (std::is_same_v<T, Module>) return "model";
    if constexpr (std::is_same_v<T, optim::Optimizer>) return "optimizer";
    if constexpr (std::is_same_v<T, optim::LRScheduler>) return "scheduler";
    if constexpr (std::is_same_v<T, Generator>) return "generator";
}

/// "a=model,b=optimizer" -> {a: model, b: optimizer}; a malformed listing is a corrupt file.
std::map<std::string, std::string> parse_entries(const std::string& path, const std::string& listing) {
    std::map<std::string, std::string> out;
    std::size_t start = 0;
    while (start < listing.size()) {
        std::size_t end = listing.find(',', start);
        if (end == std::string::npos) end = listing.size();
        const std::string item = listing.substr(start, end - start);
        const std::size_t eq = item.find('=');
        if (eq == std::string::npos || eq == 0 || !out.emplace(item.substr(0, eq), item.substr(eq + 1)).second) {
            throw RuntimeError(path + ": corrupt checkpoint: metadata 'entries' has a malformed item '" + item + "'");
        }
        start = end + 1;
    }
    return out;
}

}  // namespace

Checkpoint& Checkpoint::add_entry(const std::string& name, Target target) {
    if (name.empty() || name.find_first_of(".,=") != std::string::npos) {
        throw ValueError("Checkpoint::add: an entry name must be non-empty and free of '.', ',' and '=', got '" + name +
                         "'");
    }
    for (const auto& e : entries_) {
        if (e.name == name) throw ValueError("Checkpoint::add: '" + name + "' is already an entry");
    }
    entries_.push_back({name, target});
    return *this;
}

Checkpoint& Checkpoint::add(const std::string& name, Module& model) { return add_entry(name, &model); }
Checkpoint& Checkpoint::add(const std::string& name, optim::Optimizer& optimizer) {
    return add_entry(name, &optimizer);
}
Checkpoint& Checkpoint::add(const std::string& name, optim::LRScheduler& scheduler) {
    return add_entry(name, &scheduler);
}
Checkpoint& Checkpoint::add(const std::string& name, Generator& generator) { return add_entry(name, &generator); }

void Checkpoint::save(const std::string& path) const {
    StateDict tensors;
    serialize::Metadata metadata;
    std::string listing;
    for (const auto& entry : entries_) {
        std::visit(
            [&](auto* target) {
                using T = std::remove_pointer_t<decltype(target)>;
                if constexpr (std::is_same_v<T, Generator>) {
                    metadata["generator." + entry.name] = target->state();
                } else {
                    for (const auto& [key, value] : add_prefix(target->state_dict(), entry.name + "."))
                        tensors.insert(key, value);
                }
                listing += (listing.empty() ? "" : ",") + entry.name + "=" + kind_of<T>();
            },
            entry.target);
    }
    for (const auto& [key, value] : values) metadata["value." + key] = value;
    metadata["format"] = kFormat;
    metadata["entries"] = listing;
    serialize::save_safetensors(tensors, path, metadata);
}

void Checkpoint::load(const std::string& path) {
    const serialize::SafetensorsContents contents = serialize::load_safetensors(path);
    const auto format = contents.metadata.find("format");
    if (format == contents.metadata.end() || format->second != kFormat) {
        const std::string found = format == contents.metadata.end() ? "none" : "'" + format->second + "'";
        throw RuntimeError(path + ": not a Checkpoint (format " + found + ", expected '" + kFormat +
                           "'); read model weights with lazynn::load and a training checkpoint with load_checkpoint");
    }
    const auto listing = contents.metadata.find("entries");
    if (listing == contents.metadata.end()) throw RuntimeError(path + ": corrupt checkpoint: no 'entries' metadata");
    const std::map<std::string, std::string> stored = parse_entries(path, listing->second);

    // Everything that can be checked without touching an object is checked first: every entry is
    // there with its kind, and every generator state parses.
    std::map<std::string, Generator> generators;
    for (const auto& entry : entries_) {
        std::visit(
            [&](auto* target) {
                using T = std::remove_pointer_t<decltype(target)>;
                const auto it = stored.find(entry.name);
                if (it == stored.end()) {
                    throw RuntimeError(path + ": no entry '" + entry.name + "' (the file holds: " + listing->second +
                                       ")");
                }
                if (it->second != kind_of<T>()) {
                    throw RuntimeError(path + ": entry '" + entry.name + "' holds a state of kind '" + it->second +
                                       "', not '" + kind_of<T>() + "'");
                }
                if constexpr (std::is_same_v<T, Generator>) {
                    const auto state = contents.metadata.find("generator." + entry.name);
                    if (state == contents.metadata.end())
                        throw RuntimeError(path + ": corrupt checkpoint: no state for generator '" + entry.name + "'");
                    Generator parsed(0);
                    try {
                        parsed.set_state(state->second);
                    } catch (const Error& e) {
                        throw RuntimeError(path + ": corrupt checkpoint: generator '" + entry.name + "': " + e.what());
                    }
                    generators.emplace(entry.name, parsed);
                }
            },
            entry.target);
    }

    // Then models (which lazy ones materialise from), optimizers (checked against those
    // parameters) and schedulers (which set their optimizer's lr); a failure restores them all.
    std::vector<std::pair<const Entry*, StateDict>> before;
    for (const auto& entry : entries_) {
        std::visit(
            [&](auto* target) {
                if constexpr (!std::is_same_v<std::remove_pointer_t<decltype(target)>, Generator>)
                    before.emplace_back(&entry, detail::snapshot(target->state_dict()));
            },
            entry.target);
    }
    const auto load_kind = [&](auto tag) {
        using T = typename decltype(tag)::type;
        for (const auto& entry : entries_) {
            if (T* const* target = std::get_if<T*>(&entry.target)) {
                try {
                    (*target)->load_state_dict(detail::part_with_prefix(contents.tensors, entry.name + "."));
                } catch (const std::exception& e) {
                    throw RuntimeError(path + ": " + kind_of<T>() + " '" + entry.name + "': " + e.what());
                }
            }
        }
    };
    try {
        load_kind(TypeTag<Module>{});
        load_kind(TypeTag<optim::Optimizer>{});
        load_kind(TypeTag<optim::LRScheduler>{});
    } catch (const std::exception&) {
        try {
            // Schedulers before optimizers: a scheduler's load sets the lr its optimizer then restores.
            for (const auto& [entry, state] : before) {
                if (auto* model = std::get_if<Module*>(&entry->target)) (*model)->load_state_dict(state, false);
            }
            for (const auto& [entry, state] : before) {
                if (auto* scheduler = std::get_if<optim::LRScheduler*>(&entry->target))
                    (*scheduler)->load_state_dict(state);
            }
            for (const auto& [entry, state] : before) {
                if (auto* optimizer = std::get_if<optim::Optimizer*>(&entry->target))
                    (*optimizer)->load_state_dict(state);
            }
        } catch (const std::exception&) {
            // Restoring what was just read from these objects cannot fail short of memory; the
            // first error is the one worth reporting.
        }
        throw;
    }
    for (const auto& entry : entries_) {
        if (auto* generator = std::get_if<Generator*>(&entry.target)) **generator = generators.at(entry.name);
    }
    std::map<std::string, std::string> loaded_values;
    for (const auto& [key, value] : contents.metadata) {
        if (key.compare(0, 6, "value.") == 0) loaded_values.emplace(key.substr(6), value);
    }
    values = std::move(loaded_values);
}

}  // namespace lazynn
