#pragma once
// oneDNN, the float32 backend (internal header): GEMM through dnnl_sgemm and convolution primitives,
// each detecting the CPU's instruction set itself (AVX-512, AVX2, AMX, ...), so float32 speed never
// depends on OpenBLAS's table of known CPUs (docs/design.md, decision 15).
//
// Threading: Debian's oneDNN runs on OpenMP. lazynn owns the threads instead: every oneDNN call runs
// single-threaded on the thread that makes it, and the callers split work across lazynn's pool
// (parallel.hpp) by rows of C or by samples. OpenMP's per-thread thread count is set to 1 before a
// thread creates or runs its first primitive, because oneDNN fixes a primitive's thread count when it
// is created. No OpenMP team is ever started, so no second runtime spin-waits against lazynn's
// workers on a small machine (docs/performance.md measures the alternatives).

#include <lazynn/dtype.hpp>
#include <lazynn/error.hpp>

#include <oneapi/dnnl/dnnl.hpp>

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace lazynn::onednn {

/// Makes oneDNN calls from the current thread single-threaded; cheap after the first call.
void use_calling_thread_only();

/// Row-major C = alpha op(A) op(B) + beta C in float32 on the calling thread.
/// Requires: m, n, k >= 0; lda/ldb/ldc at least the row length of the stored (untransposed) matrix.
void sgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc);

/// The CPU engine and a stream for the calling thread. Both make the calling thread's oneDNN calls
/// single-threaded first: a primitive runs with the OpenMP thread count its creating thread had.
/// Ensures: every primitive created with engine() runs on the thread that executes it alone.
const dnnl::engine& engine();
dnnl::stream& thread_stream();

/// The per-thread buffers primitives read and write when they want their own layouts, and their
/// scratchpads: kept between calls (no page faults per step), never shared between threads.
enum BufferSlot : std::size_t {
    kWeightsBuffer,
    kChunkWeightsBuffer,
    kSrcBuffer,
    kDstBuffer,
    kDiffWeightsBuffer,
    kScratchpadBuffer,
    kBufferSlots
};

/// The calling thread's buffer `slot`, 64-byte aligned, grown to at least `bytes`.
void* thread_buffer(BufferSlot slot, std::size_t bytes);

/// Runs a primitive on the calling thread, its scratchpad (if it needs one) in that thread's buffer;
/// primitives are created with a user scratchpad, so chunks of one call never share temporary memory.
void execute(const dnnl::primitive& primitive, const dnnl::memory::desc& scratchpad,
             std::unordered_map<int, dnnl::memory> args);

/// The instruction set oneDNN dispatches to on this CPU (e.g. "avx512_core_amx"), and its version.
std::string effective_isa();
std::string version();

/// Whether oneDNN has a bfloat16 matmul (bfloat16 in, float32 accumulation) on this CPU: AMX,
/// AVX512-BF16 or its AVX-512 emulation. oneDNN 2.6 has none for AVX2. Probed once.
bool has_bfloat16_matmul();

/// Whether bfloat16 GEMMs and convolutions run on oneDNN's bfloat16 kernels now: the policy
/// (lazynn::set_bfloat16_kernels) applied to this CPU (docs/design.md, decision 22).
bool native_bfloat16();

/// Whether oneDNN's bfloat16 kernels beat its float32 ones on this CPU (the automatic policy's rule):
/// with AMX, and with AVX512-BF16 on AMD CPUs; not with AVX512-BF16 alone on Intel's.
bool bfloat16_units_outrun_float32();

/// Whether a GEMM-like op whose operands share the 16-bit dtype `half` runs on oneDNN's bfloat16
/// kernels (kernels::gemm_bf16, bfloat16 convolution primitives) rather than through float32 kernels.
inline bool native_float16(Dtype half) { return half == kBFloat16 && native_bfloat16(); }

/// Converts a dnnl::error into a lazynn::Error naming the operation.
[[noreturn]] void rethrow(const char* op, const dnnl::error& e);

}  // namespace lazynn::onednn
