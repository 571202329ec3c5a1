#pragma once
// Checkpoints in the safetensors format (docs/design.md, decision 7): an 8-byte little-endian header
// length, a JSON header mapping each name to {dtype, shape, data_offsets} (plus "__metadata__"),
// then the raw little-endian data. Key names are PyTorch's state_dict keys, so a model trained
// here loads in PyTorch and back.
//
// Files are written atomically (a temporary file in the same directory, flushed, synced and
// renamed over the target), so a crash never leaves a half-written checkpoint. Reading checks
// every offset and size against the file before touching data; a truncated or corrupt file throws
// a RuntimeError naming the file (and the key, where one is at fault).

#include <lazynn/module.hpp>

#include <map>
#include <string>

namespace lazynn {

namespace optim {
class Optimizer;
class LRScheduler;
}  // namespace optim

namespace serialize {

using Metadata = std::map<std::string, std::string>;

/// What load_safetensors returns: the tensors by key and the "__metadata__" strings.
///
/// Example:
///     serialize::SafetensorsContents file = serialize::load_safetensors("model.safetensors");
///     Tensor w = file.tensors["fc1.weight"];
struct SafetensorsContents {
    StateDict tensors;
    Metadata metadata;
};

/// Writes float32/float64/int64 tensors (uninitialised entries cannot be saved: RuntimeError).
void save_safetensors(const StateDict& tensors, const std::string& path, const Metadata& metadata = {});
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace serialize

/// Saves module.state_dict() to `path`.
void save(const Module& module, const std::string& path, const serialize::Metadata& metadata = {});
/// Loads `path` into module (strict by default). A lazy module is materialised from the stored
/// shapes without a forward (decision 4).
IncompatibleKeys load(Module& module, const std::string& path, bool strict = true);

/// Everything needed to resume training exactly: model, optimizer and scheduler state, the epoch
/// and the global random generator.
///
/// Example:
///     save_checkpoint("ckpt.safetensors", model, &sgd, &scheduler, TrainingState{epoch, {}});
///     TrainingState resumed = load_checkpoint("ckpt.safetensors", model, &sgd, &scheduler);   // resumed.epoch
struct TrainingState {
    std::int64_t epoch = 0;
    serialize::Metadata extra;
};
void save_checkpoint(const std::string& path, const Module& model, optim::Optimizer* optimizer,
                     optim::LRScheduler* scheduler, const TrainingState& state);
/// Restores what save_checkpoint wrote and returns the epoch and extra metadata.
TrainingState load_checkpoint(const std::string& path, Module& model, optim::Optimizer* optimizer,
                              optim::LRScheduler* scheduler);

}  // namespace lazynn
