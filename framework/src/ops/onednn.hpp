#pragma once
// oneDNN, the float32 backend (internal header): GEMM through dnnl_sgemm and convolution primitives,
// each detecting the CPU's instruction set itself (AVX-512, AVX2, AMX, ...), so float32 speed never
// depends on OpenBLAS's table of known CPUs (docs/design.md, decision 15).
//
// Threading: Debian's oneDNN runs on OpenMP. lazynn owns the threads instead: every oneDNN call runs
// single-threaded on the thread that makes it (OpenMP's per-thread thread count is set to 1 before the
// first call on each thread), and the callers split work across lazynn's pool (parallel.hpp) by rows of
// C or by samples. No OpenMP team is ever started, so no second runtime spin-waits against lazynn's
// workers on a small machine (docs/performance.md measures the alternatives).

#include <lazynn/error.hpp>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstdint>
#include <string>

namespace lazynn::onednn {

/// Makes oneDNN calls from the current thread single-threaded; cheap after the first call.
void use_calling_thread_only();

/// Row-major C = alpha op(A) op(B) + beta C in float32 on the calling thread.
/// Requires: m, n, k >= 0; lda/ldb/ldc at least the row length of the stored (untransposed) matrix.
void sgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);

/// The CPU engine and a stream for the calling thread.
const dnnl::engine& engine();
dnnl::stream& thread_stream();

/// The instruction set oneDNN dispatches to on this CPU (e.g. "avx512_core_amx"), and its version.
std::string effective_isa();
std::string version();

/// Whether oneDNN has a bfloat16 matmul (bfloat16 in, float32 accumulation) on this CPU: AMX,
/// AVX512-BF16 or its AVX-512 emulation. oneDNN 2.6 has none for AVX2. Probed once.
bool has_bfloat16_matmul();

/// Converts a dnnl::error into a lazynn::Error naming the operation.
[[noreturn]] void rethrow(const char* op, const dnnl::error& e);

}  // namespace lazynn::onednn
