#pragma once
// Which compute backends and instruction sets run this process's kernels, so a user (and the sample
// trainers, which log it at start) can see at once whether the CPU is used at full speed.
//
//     lazynn::log_info(lazynn::backend_info().summary());
//     for (const auto& w : lazynn::backend_info().warnings) lazynn::log_warn(w);

#include <string>
#include <vector>

namespace lazynn {

struct BackendInfo {
    std::string cpu;  ///< the CPU's model name and vector extensions, e.g. "Intel(R) Xeon(R) ... (avx512f avx2)"
    std::string onednn_version;  ///< oneDNN, which runs float32 GEMM and convolutions
    std::string onednn_isa;      ///< the instruction set oneDNN dispatches to, e.g. "avx512_core_amx"
    std::string openblas_core;   ///< the kernel set OpenBLAS picked (float64 GEMM only), e.g. "SkylakeX" or "Prescott"
    std::string simd_arch;       ///< the architecture lazynn's own vector kernels dispatched to
    /// How bfloat16 GEMMs and convolutions run (on oneDNN's bfloat16 kernels or through float32
    /// kernels), and why; float16 always runs through float32 kernels.
    std::string bfloat16;
    int threads = 1;                    ///< lazynn's intra-op thread count (set_num_threads)
    std::vector<std::string> warnings;  ///< each slow fallback in use, with what to do about it

    /// One line naming all of the above.
    std::string summary() const;
};

/// What this process runs on (detected once; `threads` and `bfloat16` are current).
BackendInfo backend_info();

/// Where bfloat16 matrix products (matmul, linear, recurrent and attention layers) and convolutions run.
/// Every choice gives float32 accumulation and one rounding of each result, so they differ only in
/// summation order; the choice is about speed.
enum class BFloat16Kernels {
    /// oneDNN's bfloat16 kernels where they beat float32 kernels: on CPUs with AMX, and on AMD CPUs with
    /// AVX512-BF16 (Zen 4, Zen 5: twice the float32 rate). With AVX512-BF16 alone on Intel CPUs oneDNN
    /// 2.6's bfloat16 matmul runs at about half its float32 rate (docs/performance.md), and AVX2 has
    /// none, so there bfloat16 runs through float32 kernels. The default.
    automatic,
    /// oneDNN's bfloat16 kernels wherever oneDNN has them (AMX or AVX512-BF16), float32 elsewhere.
    native,
    /// Always through float32 kernels: convert the operands, compute in float32, round the result once.
    float32,
};

/// Sets the policy for this process (all threads). The environment variable
/// LAZYNN_BFLOAT16_KERNELS=automatic|native|float32 sets the initial one.
void set_bfloat16_kernels(BFloat16Kernels kernels);
BFloat16Kernels get_bfloat16_kernels();

}  // namespace lazynn
