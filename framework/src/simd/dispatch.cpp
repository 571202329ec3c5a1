// Picks the SIMD architecture once; see dispatch.hpp.
#include "simd/dispatch.hpp"

#include "simd/simd.hpp"

#include "lazynn/log.hpp"

#include <cstdlib>
#include <string_view>

namespace lazynn::simd {
namespace {

struct Choice {
    unsigned version;
    const char* name;
};

#if defined(__x86_64__) || defined(_M_X64)

/// The widest architecture this CPU runs. __builtin_cpu_supports also checks that the OS saves
/// the AVX / AVX-512 registers (xsimd 8.1's CPUID probe does not).
Choice cpu_best() {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return {xsimd::avx512f::version(), "avx512f"};
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return {xsimd::fma3<xsimd::avx2>::version(), "avx2+fma"};
    return {xsimd::sse2::version(), "sse2"};
}

constexpr std::string_view kAccepted = "sse2, avx2, avx512";

/// The architecture LAZYNN_SIMD names; version 0 when it names none.
Choice requested(std::string_view name) {
    if (name == "avx512") return {xsimd::avx512f::version(), "avx512f"};
    if (name == "avx2") return {xsimd::fma3<xsimd::avx2>::version(), "avx2+fma"};
    if (name == "sse2") return {xsimd::sse2::version(), "sse2"};
    return {0, ""};
}

#else

Choice cpu_best() { return {xsimd::neon64::version(), "neon64"}; }

constexpr std::string_view kAccepted = "neon";

Choice requested(std::string_view name) {
    if (name == "neon") return {xsimd::neon64::version(), "neon64"};
    return {0, ""};
}

#endif

Choice pick() {
    const Choice best = cpu_best();
    const char* env = std::getenv("LAZYNN_SIMD");
    if (env == nullptr || *env == '\0') return best;
    const Choice asked = requested(env);
    if (asked.version == 0) {
        logging::warn("ignoring LAZYNN_SIMD='", env, "': expected one of ", kAccepted, "; using ", best.name);
        return best;
    }
    if (asked.version > best.version) {
        logging::warn("LAZYNN_SIMD=", env, " asks for more than this CPU supports; using ", best.name);
        return best;
    }
    return asked;
}

const Choice& choice() {
    static const Choice picked = pick();
    return picked;
}

}  // namespace

unsigned selected_arch_version() { return choice().version; }

}  // namespace lazynn::simd

namespace lazynn::detail {

std::string simd_arch_name() { return simd::choice().name; }

}  // namespace lazynn::detail
