#pragma once
// Random number generation. One global generator, seeded with manual_seed(), drives every
// random factory (rand, randn, randint, dropout masks, initialisers). A Generator can also be
// created and used on its own, e.g. per module (see docs/design.md, decision 5).

#include <cstdint>
#include <random>
#include <string>

namespace lazynn {

/// A seeded random stream (std::mt19937_64); its state can be saved and restored exactly.
///
/// Example:
///     Generator gen(42);
///     double u = gen.uniform();   // U[0, 1)
///     double z = gen.normal();    // N(0, 1)
class Generator {
public:
    explicit Generator(std::uint64_t seed = 5489u) { seed_(seed); }
    /// Restarts the stream; the unused half of a normal pair is dropped with it.
    void seed_(std::uint64_t seed) {
        engine_.seed(seed);
        initial_seed_ = seed;
        has_spare_ = false;
    }
    std::uint64_t initial_seed() const { return initial_seed_; }
    std::uint64_t next_u64() { return engine_(); }
    /// U[0, 1) with 53 random bits.
    double uniform() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }
    /// N(0, 1) by the Box-Muller transform (both values are used).
    double normal();
    /// The full engine state, for checkpoints; set_state() restores it exactly.
    std::string state() const;
    void set_state(const std::string& state);

private:
    std::mt19937_64 engine_;
    std::uint64_t initial_seed_ = 5489u;
    bool has_spare_ = false;
    double spare_ = 0.0;
};

/// The global generator. Drawing from it directly (rand, randn, dropout masks, the initialisers'
/// default argument) is not thread-safe: draw from one thread or use your own Generator.
/// Module seeds are the exception: draw_module_seed() takes a lock.
Generator& default_generator();
/// Seeds the global generator (PyTorch's torch.manual_seed).
void manual_seed(std::uint64_t seed);

/// The seed a module initialises its parameters from (docs/design.md, decision 5): the next draw
/// of the calling thread's innermost ModuleSeedScope if one is open, otherwise of the global
/// generator under a lock, so models can be built on several threads at once without a race.
std::uint64_t draw_module_seed();

/// While alive, modules built on this thread take their seeds from a stream of their own, started
/// at `seed`, instead of the global generator: a model built on a worker thread is then the same
/// whatever the other threads do, and the global stream does not move. Scopes nest (the innermost
/// one is used) and must be destroyed on the thread that made them, in reverse order.
///
///     std::thread worker([] {
///         ModuleSeedScope scope(7);
///         nn::Linear fc(784, 256);   // the same weights on every run, on any thread
///     });
class ModuleSeedScope {
public:
    explicit ModuleSeedScope(std::uint64_t seed);
    ~ModuleSeedScope();
    ModuleSeedScope(const ModuleSeedScope&) = delete;
    ModuleSeedScope& operator=(const ModuleSeedScope&) = delete;

private:
    friend std::uint64_t draw_module_seed();
    Generator generator_;
    ModuleSeedScope* outer_;
};

}  // namespace lazynn
