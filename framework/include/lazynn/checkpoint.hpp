#pragma once
// A checkpoint of a whole training in PyTorch's dictionary style: any number of named models,
// optimizers, schedulers and generators plus string values, in one safetensors file written
// atomically (docs/training.md, "Checkpoints"; docs/design.md, decision 7).
//
// Example (a GAN):
//     Checkpoint ckpt;
//     ckpt.add("generator", g).add("discriminator", d).add("opt_g", opt_g).add("opt_d", opt_d)
//         .add("rng", default_generator());
//     ckpt.values["epoch"] = std::to_string(epoch);
//     ckpt.save("gan.safetensors");
//     ...
//     Checkpoint resume;   // the same names, on fresh (possibly lazy) models and their optimizers
//     resume.add("generator", g2).add("discriminator", d2).add("opt_g", opt_g2).add("opt_d", opt_d2)
//         .add("rng", default_generator());
//     resume.load("gan.safetensors");   // all or nothing; resume.values["epoch"]
#include <lazynn/module.hpp>
#include <lazynn/random.hpp>

#include <map>
#include <string>
#include <variant>
#include <vector>

namespace lazynn {

namespace optim {
class Optimizer;
class LRScheduler;
}  // namespace optim

/// Names the objects of a training and saves or loads them together. It holds references: every
/// added object must outlive the Checkpoint's save() or load() call.
///
/// The file: tensors under "<name>.<state key>" (a model's keys are its state_dict's, so a
/// model's part reads in PyTorch as `{k[len(name) + 1:]: v for k, v in file.items() if
/// k.startswith(name + ".")}`), and metadata "format" = "lazynn-checkpoint", "entries" (each name
/// and its kind), a generator's state under its name and each value under "value.<key>".
class Checkpoint {
public:
    /// requires: name is non-empty, has no '.', ',' or '=', and is not already added (ValueError).
    Checkpoint& add(const std::string& name, Module& model);
    Checkpoint& add(const std::string& name, optim::Optimizer& optimizer);
    Checkpoint& add(const std::string& name, optim::LRScheduler& scheduler);
    Checkpoint& add(const std::string& name, Generator& generator);

    /// User values (epoch, best metric, ...), saved as strings; load() replaces them with the file's.
    std::map<std::string, std::string> values;

    /// Writes every added object's state and the values (at full precision, atomically).
    /// requires: every added model materialised (RuntimeError naming the entry otherwise).
    void save(const std::string& path) const;

    /// Loads every added object from `path`, which must hold each added name with the same kind;
    /// entries the file has and this Checkpoint does not are ignored (pick what you need, as from
    /// PyTorch's dictionary). Lazy models materialise from the stored shapes. All or nothing: on
    /// any error (a RuntimeError naming the file and the entry) every object is as it was, except
    /// that a lazy model the file materialised stays materialised.
    void load(const std::string& path);

private:
    using Target = std::variant<Module*, optim::Optimizer*, optim::LRScheduler*, Generator*>;
    struct Entry {
        std::string name;
        Target target;
    };
    std::vector<Entry> entries_;
    Checkpoint& add_entry(const std::string& name, Target target);
};

}  // namespace lazynn
