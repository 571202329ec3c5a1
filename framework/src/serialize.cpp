// safetensors reading and writing, module save/load and training checkpoints.
#include "state_snapshot.hpp"
#include "tensor_impl.hpp"

#include <lazynn/optim/lr_scheduler.hpp>
#include <lazynn/optim/optimizer.hpp>
#include <lazynn/random.hpp>
#include <lazynn/serialize.hpp>
#include <lazynn/state_dict_keys.hpp>

#include <nlohmann/json.hpp>

#include <atomic>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <charconv>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static_assert(std::endian::native == std::endian::little,
              "safetensors data is little-endian; big-endian hosts need byte swapping");

namespace lazynn {
namespace serialize {
namespace {

const char* dtype_code(Dtype d) {
    switch (d) {
        case Dtype::Float32:
            return "F32";
        case Dtype::Float64:
            return "F64";
        case Dtype::Int64:
            return "I64";
        case Dtype::Bool:
            return "BOOL";
        case Dtype::BFloat16:
            return "BF16";
        case Dtype::Float16:
            return "F16";
    }
    return "?";
}

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw RuntimeError(path + ": " + what); }

/// The process id in a temporary file name "<name>.tmp-<pid>-<n>", or 0 when it is not one.
pid_t temporary_owner(const std::string& name) {
    const std::size_t at = name.rfind(".tmp-");
    if (at == std::string::npos) return 0;
    const char* first = name.c_str() + at + 5;
    const char* last = name.c_str() + name.size();
    long long pid = 0, serial = 0;
    const auto [dash, e1] = std::from_chars(first, last, pid);
    if (e1 != std::errc() || dash == last || *dash != '-' || pid <= 0) return 0;
    const auto [end, e2] = std::from_chars(dash + 1, last, serial);
    if (e2 != std::errc() || end != last || pid > std::numeric_limits<pid_t>::max()) return 0;
    return static_cast<pid_t>(pid);
}

/// Removes the temporary files a killed save left in `directory`: only those whose writer is no
/// longer running, so a save in progress in another process is never touched.
void remove_stale_temporaries(const std::filesystem::path& directory) {
    std::error_code ec;
    for (std::filesystem::directory_iterator it(directory.empty() ? "." : directory, ec), end; !ec && it != end;
         it.increment(ec)) {
        const pid_t owner = temporary_owner(it->path().filename().string());
        if (owner == 0 || owner == ::getpid()) continue;
        if (::kill(owner, 0) == -1 && errno == ESRCH) {
            std::error_code ignored;
            std::filesystem::remove(it->path(), ignored);
        }
    }
}

/// Makes the rename itself durable: without syncing the directory a power cut can lose the new
/// name even though the file's data reached the disk.
void sync_directory(const std::filesystem::path& directory) {
    const int fd = ::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return;
    ::fsync(fd);  // some filesystems cannot sync a directory (EINVAL); the file itself is synced
    ::close(fd);
}

/// One tensor's bytes in the file: the tensor's own storage, or its values rounded to 16 bits.
struct Chunk {
    Tensor tensor;                      // written as it is, unless narrowed
    std::vector<std::uint16_t> halves;  // the F16 or BF16 values written instead
    bool narrowed = false;
    const void* data() const { return narrowed ? halves.data() : tensor.impl().storage->raw(); }
    std::size_t bytes() const {
        return narrowed ? halves.size() * sizeof(std::uint16_t)
                        : static_cast<std::size_t>(tensor.numel()) * dtype_size(tensor.dtype());
    }
};

/// Writes the header and `payload` to `path` through a temporary file and an atomic rename.
void write_atomically(const std::string& path, const std::string& header, const std::vector<Chunk>& payload) {
    static std::atomic<unsigned> counter{0};
    const std::filesystem::path target(path);
    remove_stale_temporaries(target.parent_path());
    const std::filesystem::path tmp =
        target.parent_path() /
        (target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) fail(path, std::string("cannot create a temporary file next to it (") + std::strerror(errno) + ")");
    bool ok = true;
    const std::uint64_t n = header.size();
    unsigned char len[8];
    for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>(n >> (8 * i));
    ok = ok && std::fwrite(len, 1, 8, f) == 8;
    ok = ok && std::fwrite(header.data(), 1, header.size(), f) == header.size();
    for (const Chunk& chunk : payload) {
        const std::size_t bytes = chunk.bytes();
        ok = ok && (bytes == 0 || std::fwrite(chunk.data(), 1, bytes, f) == bytes);
    }
    ok = ok && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    ok = (std::fclose(f) == 0) && ok;
    if (!ok) {
        std::filesystem::remove(tmp);
        fail(path, std::string("write failed (") + std::strerror(errno) + ")");
    }
    std::error_code ec;
    std::filesystem::rename(tmp, target, ec);
    if (ec) {
        std::filesystem::remove(tmp);
        fail(path, "cannot move the finished file into place (" + ec.message() + ")");
    }
    sync_directory(target.parent_path());
}

}  // namespace

namespace {

/// `contiguous`'s values rounded by `round` (float32 -> 16 bits; float64 goes through float32).
template <class Round>
std::vector<std::uint16_t> rounded_to_16_bits(const Tensor& contiguous, Round round) {
    std::vector<std::uint16_t> out(static_cast<std::size_t>(contiguous.numel()));
    if (contiguous.dtype() == kFloat32) {
        const float* x = contiguous.data_ptr<float>();
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = round(x[i]);
    } else {
        const double* x = contiguous.data_ptr<double>();
        for (std::size_t i = 0; i < out.size(); ++i) out[i] = round(static_cast<float>(x[i]));
    }
    return out;
}

}  // namespace

void save_safetensors(const StateDict& tensors, const std::string& path, const Metadata& metadata,
                      const SaveOptions& options) {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header["__metadata__"] = metadata;
    std::vector<Chunk> payload;
    std::uint64_t offset = 0;
    for (const auto& [name, t] : tensors) {
        if (!t.defined()) fail(path, "tensor '" + name + "' is undefined and cannot be saved");
        if (t.is_uninitialized()) {
            fail(path,
                 "tensor '" + name +
                     "' is an uninitialized parameter; run a forward pass (or model.initialize(sample)) before saving");
        }
        Chunk chunk;
        const char* code = dtype_code(t.dtype());
        if (is_floating(t.dtype()) && options.float_format() != FloatFormat::AsIs) {
            // Rounded straight from the tensor's data: the 16-bit copy is the only one kept.
            const bool half = options.float_format() == FloatFormat::Float16;
            // A 16-bit tensor is rounded from its float32 value (which holds it exactly).
            const Tensor values = detail::contiguous_data(is_float16(t.dtype()) ? t.detach().to(kFloat32) : t);
            chunk.halves = half ? rounded_to_16_bits(values, detail::half_bits)
                                : rounded_to_16_bits(values, detail::bfloat16_bits);
            chunk.narrowed = true;
            code = half ? "F16" : "BF16";
        } else {
            chunk.tensor = detail::contiguous_data(t).clone();
        }
        const std::uint64_t bytes = chunk.bytes();
        header[name] = {{"dtype", code}, {"shape", t.shape()}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
        payload.push_back(std::move(chunk));
    }
    std::string text = header.dump();
    while (text.size() % 8 != 0) text.push_back(' ');  // the format pads the header to 8 bytes
    write_atomically(path, text, payload);
}

namespace {

SafetensorsContents read_safetensors(const std::string& path) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) fail(path, "is a directory, not a safetensors file");
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(path, std::filesystem::exists(path, ec) ? "cannot open" : "no such file");
    in.seekg(0, std::ios::end);
    const auto file_size = static_cast<std::uint64_t>(in.tellg());
    in.seekg(0);
    if (file_size < 8)
        fail(path, "truncated: " + std::to_string(file_size) + " bytes, too short for a safetensors header");
    unsigned char len[8];
    in.read(reinterpret_cast<char*>(len), 8);
    std::uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= std::uint64_t{len[i]} << (8 * i);
    if (header_size > file_size - 8) {
        fail(path, "corrupt or truncated: the header claims " + std::to_string(header_size) + " bytes but only " +
                       std::to_string(file_size - 8) + " follow");
    }
    std::string text(header_size, '\0');
    in.read(text.data(), static_cast<std::streamsize>(header_size));
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        fail(path, std::string("corrupt header (not valid JSON: ") + e.what() + ")");
    }
    if (!header.is_object()) fail(path, "corrupt header (expected a JSON object)");
    const std::uint64_t data_size = file_size - 8 - header_size;

    SafetensorsContents out;
    // Keep the file's order (offsets ascending), as writers lay tensors out in state_dict order.
    std::vector<std::pair<std::uint64_t, std::string>> order;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) fail(path, "corrupt header: __metadata__ must be an object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) fail(path, "corrupt header: metadata value '" + m.key() + "' is not a string");
                out.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        const auto& entry = *it;
        if (!entry.is_object() || !entry.contains("dtype") || !entry.contains("shape") ||
            !entry.contains("data_offsets") || !entry["data_offsets"].is_array() || entry["data_offsets"].size() != 2) {
            fail(path, "corrupt header entry for '" + it.key() + "' (needs dtype, shape and two data_offsets)");
        }
        order.emplace_back(
            entry["data_offsets"][0].is_number_unsigned() ? entry["data_offsets"][0].get<std::uint64_t>() : 0,
            it.key());
    }
    std::sort(order.begin(), order.end());
    for (const auto& [begin_unused, key] : order) {
        const auto& entry = header[key];
        const std::string code = entry["dtype"].is_string() ? entry["dtype"].get<std::string>() : "";
        Dtype dtype;
        if (code == "F16")
            dtype = kFloat16;
        else if (code == "BF16")
            dtype = kBFloat16;
        else if (code == "F32")
            dtype = kFloat32;
        else if (code == "F64")
            dtype = kFloat64;
        else if (code == "I64")
            dtype = kInt64;
        else if (code == "BOOL")
            dtype = kBool;
        else
            fail(path, "tensor '" + key + "' has dtype '" + code + "'; lazynn reads F16, BF16, F32, F64, I64 and BOOL");
        Shape shape;
        if (!entry["shape"].is_array())
            fail(path, "tensor '" + key + "' has an invalid shape (expected a list of sizes)");
        for (const auto& d : entry["shape"]) {
            if (!d.is_number_unsigned() ||
                d.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
                fail(path, "tensor '" + key + "' has an invalid shape " + entry["shape"].dump());
            }
            shape.push_back(d.get<std::int64_t>());
        }
        const auto& offs = entry["data_offsets"];
        if (!offs[0].is_number_unsigned() || !offs[1].is_number_unsigned())
            fail(path, "tensor '" + key + "' has invalid data_offsets");
        const auto begin = offs[0].get<std::uint64_t>(), end = offs[1].get<std::uint64_t>();
        // Checked products: a shape like [2^62 + 1, 4] must not wrap into a size the offsets match.
        std::uint64_t expected = 0;
        bool too_big = false;
        try {
            too_big =
                __builtin_mul_overflow(static_cast<std::uint64_t>(shape_numel(shape)), dtype_size(dtype), &expected);
        } catch (const Error&) {
            too_big = true;
        }
        if (too_big) fail(path, "tensor '" + key + "' has a shape " + shape_to_list(shape) + " too large to address");
        if (end < begin || end - begin != expected) {
            fail(path, "tensor '" + key + "': data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) +
                           ") do not hold " + shape_to_list(shape) + " " + code + " values (" +
                           std::to_string(expected) + " bytes)");
        }
        if (end > data_size) {
            fail(path, "truncated: tensor '" + key + "' needs bytes up to " + std::to_string(end) +
                           " but the data section has " + std::to_string(data_size));
        }
        Tensor t;
        try {
            t = detail::empty_tensor(shape, dtype);
        } catch (const Error& e) {
            fail(path, "tensor '" + key + "': " + e.what());
        }
        in.seekg(static_cast<std::streamoff>(8 + header_size + begin));
        in.read(static_cast<char*>(t.impl().storage->raw()), static_cast<std::streamsize>(expected));
        if (!in) fail(path, "read error in tensor '" + key + "'");
        if (dtype == kBool) {
            // A bool byte other than 0 or 1 is not a value C++ can hold in a bool: refuse it.
            const auto* bytes = static_cast<const unsigned char*>(t.impl().storage->raw());
            for (std::uint64_t k = 0; k < expected; ++k) {
                if (bytes[k] > 1)
                    fail(path,
                         "tensor '" + key + "' holds a BOOL byte " + std::to_string(bytes[k]) + " (expected 0 or 1)");
            }
        }
        out.tensors.insert(key, t);
    }
    return out;
}

}  // namespace

SafetensorsContents load_safetensors(const std::string& path) {
    try {
        return read_safetensors(path);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        // Whatever the checks above missed still reaches the caller as a lazynn::Error.
        fail(path, std::string("cannot be read (") + e.what() + ")");
    }
}

}  // namespace serialize

void save(const Module& module, const std::string& path, const serialize::Metadata& metadata,
          const serialize::SaveOptions& options) {
    serialize::Metadata meta = metadata;
    meta.emplace("format", "pt");  // what the safetensors PyTorch loader expects
    serialize::save_safetensors(module.state_dict(), path, meta, options);
}

IncompatibleKeys load(Module& module, const std::string& path, bool strict) {
    const auto contents = serialize::load_safetensors(path);
    // A training checkpoint's keys are "model.*", "optimizer.*": say which call reads it.
    const auto format = contents.metadata.find("format");
    if (format != contents.metadata.end() && format->second == "lazynn-checkpoint") {
        throw RuntimeError(path +
                           ": a Checkpoint of several named objects (keys <name>.*), not a state_dict; load the "
                           "model's part with Checkpoint().add(name, model).load(path) (its entries: " +
                           (contents.metadata.count("entries") ? contents.metadata.at("entries") : std::string()) +
                           ")");
    }
    if (format != contents.metadata.end() && format->second == "lazynn-training-checkpoint") {
        throw RuntimeError(path +
                           ": a training checkpoint (model, optimizer and scheduler state, keys model.*), not a "
                           "state_dict; resume it with load_checkpoint(path, model, &optimizer, &scheduler), or load "
                           "the weights alone with model.load_state_dict(strip_prefix(serialize::load_safetensors(path)"
                           ".tensors, \"model.\"), false)");
    }
    try {
        return module.load_state_dict(contents.tensors, strict);
    } catch (const std::exception& e) {
        throw RuntimeError(path + ": " + e.what());
    }
}

void save_checkpoint(const std::string& path, const Module& model, optim::Optimizer* optimizer,
                     optim::LRScheduler* scheduler, const TrainingState& state) {
    StateDict all = add_prefix(model.state_dict(), "model.");
    if (optimizer) {
        for (const auto& [k, v] : optimizer->state_dict()) all.insert("optimizer." + k, v);
    }
    if (scheduler) {
        for (const auto& [k, v] : scheduler->state_dict()) all.insert("scheduler." + k, v);
    }
    serialize::Metadata meta = state.extra;
    meta["epoch"] = std::to_string(state.epoch);
    meta["rng_state"] = default_generator().state();
    meta["format"] = "lazynn-training-checkpoint";
    serialize::save_safetensors(all, path, meta);
}

namespace {

std::int64_t parse_epoch(const std::string& path, const std::string& text) {
    std::int64_t epoch = 0;
    const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), epoch);
    if (error != std::errc() || end != text.data() + text.size() || epoch < 0) {
        throw RuntimeError(path + ": corrupt training checkpoint: metadata 'epoch' is not a non-negative integer: '" +
                           text + "'");
    }
    return epoch;
}

}  // namespace

TrainingState load_checkpoint(const std::string& path, Module& model, optim::Optimizer* optimizer,
                              optim::LRScheduler* scheduler) {
    const auto contents = serialize::load_safetensors(path);
    if (!contents.metadata.count("epoch") || !contents.metadata.count("rng_state")) {
        throw RuntimeError(
            path + ": not a training checkpoint (no epoch / rng_state metadata); use lazynn::load for model weights");
    }
    // Everything that can be checked without touching the model is checked first ...
    TrainingState state;
    state.epoch = parse_epoch(path, contents.metadata.at("epoch"));
    state.extra = contents.metadata;
    Generator rng(0);
    try {
        rng.set_state(contents.metadata.at("rng_state"));
    } catch (const Error& e) {
        throw RuntimeError(path + ": corrupt training checkpoint: metadata 'rng_state': " + e.what());
    }
    // ... and what can only be checked while loading (the optimizer's state against parameters a
    // lazy model materialises from this file) is undone when a later part fails: the model,
    // optimizer and scheduler end up all loaded or all as they were (a lazy module that the file
    // materialised stays materialised).
    const StateDict model_before = detail::snapshot(model.state_dict());
    const StateDict optimizer_before = optimizer ? detail::snapshot(optimizer->state_dict()) : StateDict();
    const StateDict scheduler_before = scheduler ? detail::snapshot(scheduler->state_dict()) : StateDict();
    try {
        model.load_state_dict(detail::part_with_prefix(contents.tensors, "model."));
        if (optimizer) optimizer->load_state_dict(detail::part_with_prefix(contents.tensors, "optimizer."));
        if (scheduler) scheduler->load_state_dict(detail::part_with_prefix(contents.tensors, "scheduler."));
    } catch (const std::exception& e) {
        try {
            model.load_state_dict(model_before, /*strict=*/false);
            if (scheduler) scheduler->load_state_dict(scheduler_before);  // sets the lr ...
            if (optimizer) optimizer->load_state_dict(optimizer_before);  // ... which this restores exactly
        } catch (const std::exception&) {
            // Restoring what was just read from these objects cannot fail short of memory; the
            // first error is the one worth reporting.
        }
        throw RuntimeError(path + ": " + e.what());
    }
    default_generator() = rng;
    return state;
}

}  // namespace lazynn
