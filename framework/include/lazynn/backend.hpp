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
    /// How bfloat16/float16 GEMMs and convolutions run (through float32 kernels today), and whether
    /// oneDNN could run bfloat16 natively on this CPU.
    std::string bfloat16;
    int threads = 1;                    ///< lazynn's intra-op thread count (set_num_threads)
    std::vector<std::string> warnings;  ///< each slow fallback in use, with what to do about it

    /// One line naming all of the above.
    std::string summary() const;
};

/// What this process runs on (detected once; `threads` is the current count).
BackendInfo backend_info();

}  // namespace lazynn
