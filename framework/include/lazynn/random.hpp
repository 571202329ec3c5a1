#pragma once
// Random number generation. One global generator, seeded with manual_seed(), drives every
// random factory (rand, randn, randint, dropout masks, initialisers). A Generator can also be
// created and used on its own, e.g. per module (see docs/design.md, decision 5).

#include <cstdint>
#include <random>
#include <string>

namespace lazynn {

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

/// The global generator (not thread-safe: draw from one thread or use your own Generator).
Generator& default_generator();
/// Seeds the global generator (PyTorch's torch.manual_seed).
void manual_seed(std::uint64_t seed);

}  // namespace lazynn
