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
//
// Half-precision files: F16 and BF16 tensors (how most published checkpoints are stored) load as
// float16 and bfloat16 tensors, as PyTorch's safetensors loader gives them, and load_state_dict
// converts them to each parameter's dtype. bfloat16/float16 tensors are written as BF16/F16. Writing
// other floating-point tensors in 16 bits is a request (SaveOptions::float_format): they are rounded
// to the nearest 16-bit value as PyTorch's .half() / .bfloat16() round them.

#include <lazynn/arg.hpp>
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

/// How floating-point tensors are stored.
enum class FloatFormat {
    AsIs,      ///< F32 for float32, F64 for float64: exact
    Float16,   ///< F16 (IEEE binary16): 11 significant bits, |x| up to 65504 (beyond: infinity)
    BFloat16,  ///< BF16: 8 significant bits, float32's range
};

/// Example:
///     save(model, "model-bf16.safetensors", {}, serialize::SaveOptions().float_format(serialize::FloatFormat::BFloat16));
struct SaveOptions {
    /// F16 and BF16 round each float32 or float64 value to nearest, ties to even (a float64 value
    /// is rounded to float32 first, as PyTorch does); int64 and bool tensors are stored as they are.
    LAZYNN_ARG(FloatFormat, float_format) = FloatFormat::AsIs;
};

/// Writes float32/float64/int64/bool/bfloat16/float16 tensors (uninitialised entries cannot be saved:
/// RuntimeError).
void save_safetensors(const StateDict& tensors, const std::string& path, const Metadata& metadata = {},
                      const SaveOptions& options = {});
/// Reads F32, F64, I64, BOOL, BF16 and F16 tensors as float32, float64, int64, bool, bfloat16 and
/// float16 tensors.
SafetensorsContents load_safetensors(const std::string& path);

}  // namespace serialize

/// Saves module.state_dict() to `path` (in 16 bits when `options` asks for it).
void save(const Module& module, const std::string& path, const serialize::Metadata& metadata = {},
          const serialize::SaveOptions& options = {});
/// Loads `path` into module (strict by default). A lazy module is materialised from the stored
/// shapes without a forward (decision 4).
IncompatibleKeys load(Module& module, const std::string& path, bool strict = true);

/// Everything needed to resume training exactly (always at full precision): model, optimizer and scheduler state, the epoch
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
