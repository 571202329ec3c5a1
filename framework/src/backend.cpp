#include <lazynn/backend.hpp>
#include <lazynn/threads.hpp>

#include "ops/onednn.hpp"
#include "simd/simd.hpp"

#include <lazynn/log.hpp>

#include <cblas.h>

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <string_view>

namespace lazynn {
namespace {

/// The model name from /proc/cpuinfo, or "unknown CPU".
std::string cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0 || line.rfind("Model", 0) == 0) {
            const auto colon = line.find(':');
            if (colon != std::string::npos && colon + 2 <= line.size()) return line.substr(colon + 2);
        }
    }
    return "unknown CPU";
}

struct CpuFeatures {
    bool avx2 = false, avx512 = false;
};

CpuFeatures cpu_features() {
    CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    f.avx2 = __builtin_cpu_supports("avx2");
    f.avx512 = __builtin_cpu_supports("avx512f");
#endif
    return f;
}

/// OpenBLAS's core names whose kernels use no AVX at all: on a CPU with AVX2 they run at a fraction
/// of its speed (OpenBLAS falls back to them on CPUs newer than its table).
bool generic_openblas_core(std::string_view core) {
    for (std::string_view slow : {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Katmai",
                                  "Coppermine", "Northwood", "Banias", "Generic", "Opteron", "Barcelona", "Bobcat"}) {
        if (core == slow) return true;
    }
    return false;
}

BackendInfo detect() {
    BackendInfo info;
    const CpuFeatures features = cpu_features();
    info.cpu = cpu_model() + (features.avx512 ? " (avx512f avx2)" : features.avx2 ? " (avx2)" : "");
    info.onednn_version = onednn::version();
    info.onednn_isa = onednn::effective_isa();
    const char* core = openblas_get_corename();
    info.openblas_core = core ? core : "unknown";
    info.simd_arch = detail::simd_arch_name();
    if (features.avx2 && generic_openblas_core(info.openblas_core)) {
        info.warnings.push_back("OpenBLAS runs its generic '" + info.openblas_core +
                                "' kernels on this CPU, which has " + (features.avx512 ? "AVX-512" : "AVX2") +
                                ": float64 matrix products run at a fraction of the CPU's speed (float32 is "
                                "unaffected: it runs on oneDNN). "
                                "Set OPENBLAS_CORETYPE=" +
                                (features.avx512 ? "SkylakeX" : "Haswell") + " to fix it.");
    }
    if (features.avx2 && (info.onednn_isa == "sse41" || info.onednn_isa == "avx" || info.onednn_isa == "generic")) {
        info.warnings.push_back("oneDNN is limited to '" + info.onednn_isa +
                                "' on a CPU with AVX2 (is ONEDNN_MAX_CPU_ISA or DNNL_MAX_CPU_ISA set?): "
                                "float32 matrix products and convolutions run slower than they could.");
    }
    if ((features.avx512 && info.simd_arch != "avx512f") || (features.avx2 && info.simd_arch == "sse2")) {
        info.warnings.push_back("lazynn's vector kernels run '" + info.simd_arch + "' although the CPU has " +
                                (features.avx512 ? "AVX-512" : "AVX2") +
                                " (LAZYNN_SIMD caps them): unset LAZYNN_SIMD for full speed.");
    }
    return info;
}

/// LAZYNN_BFLOAT16_KERNELS, or automatic when it is unset or names no policy (with a warning).
BFloat16Kernels policy_from_environment() {
    const char* env = std::getenv("LAZYNN_BFLOAT16_KERNELS");
    if (env == nullptr || *env == '\0') return BFloat16Kernels::automatic;
    const std::string_view value(env);
    if (value == "automatic") return BFloat16Kernels::automatic;
    if (value == "native") return BFloat16Kernels::native;
    if (value == "float32") return BFloat16Kernels::float32;
    logging::warn("ignoring LAZYNN_BFLOAT16_KERNELS='", value, "': expected automatic, native or float32");
    return BFloat16Kernels::automatic;
}

std::atomic<BFloat16Kernels>& bfloat16_policy() {
    static std::atomic<BFloat16Kernels> policy{policy_from_environment()};
    return policy;
}

/// How bfloat16 runs now, and why.
std::string bfloat16_description(const BackendInfo& info) {
    if (onednn::native_bfloat16())
        return "bfloat16 GEMM and convolutions on oneDNN's bfloat16 kernels (" + info.onednn_isa + ")";
    if (!onednn::has_bfloat16_matmul())
        return "bfloat16 through float32 kernels (oneDNN " + info.onednn_version + " has no bfloat16 matmul for " +
               info.onednn_isa + ")";
    if (get_bfloat16_kernels() == BFloat16Kernels::float32)
        return "bfloat16 through float32 kernels (set_bfloat16_kernels(float32))";
    return "bfloat16 through float32 kernels (faster than oneDNN's bfloat16 kernels on " + info.onednn_isa +
           " without AMX on this CPU; set_bfloat16_kernels(native) or LAZYNN_BFLOAT16_KERNELS=native to use them)";
}

}  // namespace

void set_bfloat16_kernels(BFloat16Kernels kernels) { bfloat16_policy().store(kernels); }

BFloat16Kernels get_bfloat16_kernels() { return bfloat16_policy().load(); }

std::string BackendInfo::summary() const {
    return "CPU " + cpu + "; float32 GEMM and convolutions on oneDNN " + onednn_version + " (" + onednn_isa +
           "); float64 GEMM on OpenBLAS (" + openblas_core + " kernels); vector kernels " + simd_arch + "; " +
           bfloat16 + "; " + std::to_string(threads) + " thread" + (threads == 1 ? "" : "s");
}

BackendInfo backend_info() {
    static const BackendInfo detected = detect();
    BackendInfo info = detected;
    info.threads = get_num_threads();
    info.bfloat16 = bfloat16_description(info);
    return info;
}

}  // namespace lazynn
