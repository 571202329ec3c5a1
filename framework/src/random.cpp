#include <lazynn/error.hpp>
#include <lazynn/random.hpp>

#include <bit>
#include <mutex>
#include <cmath>
#include <numbers>
#include <sstream>

namespace lazynn {

double Generator::normal() {
    if (has_spare_) {
        has_spare_ = false;
        return spare_;
    }
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
}

std::string Generator::state() const {
    std::ostringstream out;
    // The spare normal is stored as its bit pattern: libstdc++ cannot read hexfloat back.
    out << initial_seed_ << ' ' << has_spare_ << ' ' << std::bit_cast<std::uint64_t>(spare_) << ' ' << engine_;
    return out.str();
}

void Generator::set_state(const std::string& state) {
    std::istringstream in(state);
    std::uint64_t seed = 0;
    bool has_spare = false;
    std::uint64_t spare_bits = 0;
    std::mt19937_64 engine;
    in >> seed >> has_spare >> spare_bits >> engine;
    if (!in)
        throw ValueError(
            "Generator::set_state: the state string is malformed (expected the output of Generator::state())");
    initial_seed_ = seed;
    has_spare_ = has_spare;
    spare_ = std::bit_cast<double>(spare_bits);
    engine_ = engine;
}

Generator& default_generator() {
    static Generator generator(0x2545F4914F6CDD1DULL);
    return generator;
}

namespace {
std::mutex& module_seed_mutex() {
    static std::mutex mutex;
    return mutex;
}
thread_local ModuleSeedScope* innermost_scope = nullptr;
}  // namespace

void manual_seed(std::uint64_t seed) {
    std::lock_guard lock(module_seed_mutex());
    default_generator().seed_(seed);
}

std::uint64_t draw_module_seed() {
    if (innermost_scope != nullptr) return innermost_scope->generator_.next_u64();
    std::lock_guard lock(module_seed_mutex());
    return default_generator().next_u64();
}

ModuleSeedScope::ModuleSeedScope(std::uint64_t seed) : generator_(seed), outer_(innermost_scope) {
    innermost_scope = this;
}

ModuleSeedScope::~ModuleSeedScope() { innermost_scope = outer_; }

}  // namespace lazynn
