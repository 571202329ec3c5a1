#include "ops/onednn.hpp"

#include "signals.hpp"

#include <lazynn/backend.hpp>

#include <oneapi/dnnl/dnnl.h>

#include <array>
#include <memory>
#include <new>

// OpenMP's per-thread "nthreads-var": declared here rather than through <omp.h>, so the library does
// not need the compiler's OpenMP flag (clang would bring its own runtime, not the libgomp oneDNN uses).
extern "C" void omp_set_num_threads(int threads);

namespace lazynn::onednn {

void use_calling_thread_only() {
    thread_local const bool done = [] {
        omp_set_num_threads(1);
        return true;
    }();
    (void)done;
}

void sgemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, float alpha, const float* a,
           std::int64_t lda, const float* b, std::int64_t ldb, float beta, float* c, std::int64_t ldc) {
    if (m == 0 || n == 0) return;
    if (k == 0) {  // an empty sum: C = beta C (oneDNN rejects K = 0 leading dimensions)
        for (std::int64_t i = 0; i < m; ++i) {
            for (std::int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.0f ? 0.0f : beta * c[i * ldc + j];
        }
        return;
    }
    use_calling_thread_only();
    const lazynn::detail::SignalsHeld no_handler_on_this_stack;  // signals.hpp: the kernel may run on a heap stack
    const dnnl_status_t status =
        dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    if (status != dnnl_success) {
        throw RuntimeError("sgemm: oneDNN's dnnl_sgemm failed (status " + std::to_string(static_cast<int>(status)) +
                           ") for m=" + std::to_string(m) + ", n=" + std::to_string(n) + ", k=" + std::to_string(k) +
                           ", lda=" + std::to_string(lda) + ", ldb=" + std::to_string(ldb) +
                           ", ldc=" + std::to_string(ldc));
    }
}

const dnnl::engine& engine() {
    // A primitive keeps the OpenMP thread count of the thread that created it and starts a team of
    // that size on every call, whichever thread makes it: every primitive is created with this engine,
    // so the creating thread is made single-threaded first.
    use_calling_thread_only();
    static const dnnl::engine cpu(dnnl::engine::kind::cpu, 0);
    return cpu;
}

dnnl::stream& thread_stream() {
    use_calling_thread_only();
    thread_local dnnl::stream stream(engine());
    return stream;
}

namespace {

struct AlignedFree {
    void operator()(void* p) const { ::operator delete(p, std::align_val_t(64)); }
};

struct Buffer {
    std::unique_ptr<void, AlignedFree> data;
    std::size_t size = 0;
};

}  // namespace

void* thread_buffer(BufferSlot slot, std::size_t bytes) {
    thread_local std::array<Buffer, kBufferSlots> buffers;
    Buffer& b = buffers[slot];
    if (b.size < bytes) {
        b.data.reset(::operator new(bytes, std::align_val_t(64)));
        b.size = bytes;
    }
    return b.data.get();
}

void execute(const dnnl::primitive& primitive, const dnnl::memory::desc& scratchpad,
             std::unordered_map<int, dnnl::memory> args) {
    if (scratchpad.get_size() > 0) {
        args.emplace(DNNL_ARG_SCRATCHPAD,
                     dnnl::memory(scratchpad, engine(), thread_buffer(kScratchpadBuffer, scratchpad.get_size())));
    }
    // signals.hpp: a GEMM-based implementation runs oneDNN's GEMM kernels, which may use a heap stack.
    const lazynn::detail::SignalsHeld no_handler_on_this_stack;
    primitive.execute(thread_stream(), args);
}

std::string effective_isa() {
    switch (dnnl_get_effective_cpu_isa()) {
        case dnnl_cpu_isa_sse41:
            return "sse41";
        case dnnl_cpu_isa_avx:
            return "avx";
        case dnnl_cpu_isa_avx2:
            return "avx2";
        case dnnl_cpu_isa_avx2_vnni:
            return "avx2_vnni";
        case dnnl_cpu_isa_avx512_mic:
            return "avx512_mic";
        case dnnl_cpu_isa_avx512_mic_4ops:
            return "avx512_mic_4ops";
        case dnnl_cpu_isa_avx512_core:
            return "avx512_core";
        case dnnl_cpu_isa_avx512_core_vnni:
            return "avx512_core_vnni";
        case dnnl_cpu_isa_avx512_core_bf16:
            return "avx512_core_bf16";
        case dnnl_cpu_isa_avx512_core_amx:
            return "avx512_core_amx";
        default:
            return "generic";
    }
}

std::string version() {
    const dnnl_version_t* v = dnnl_version();
    return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch);
}

bool has_bfloat16_matmul() {
    static const bool available = [] {
        using dt = dnnl::memory::data_type;
        const dnnl::memory::desc a({8, 8}, dt::bf16, dnnl::memory::format_tag::ab);
        const dnnl::memory::desc c({8, 8}, dt::f32, dnnl::memory::format_tag::ab);
        try {
            const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, a, c), engine());
            return pd.get(true) != nullptr;
        } catch (const dnnl::error&) {
            return false;  // dnnl_unimplemented: no bfloat16 kernel for this ISA
        }
    }();
    return available;
}

bool native_bfloat16() {
    if (!has_bfloat16_matmul()) return false;
    switch (get_bfloat16_kernels()) {
        case BFloat16Kernels::native:
            return true;
        case BFloat16Kernels::float32:
            return false;
        case BFloat16Kernels::automatic:
            break;
    }
    return bfloat16_units_outrun_float32();
}

bool bfloat16_units_outrun_float32() {
    // Measured (docs/performance.md): on an Emerald Rapids Xeon without AMX oneDNN 2.6's bfloat16 matmul
    // on AVX512-BF16 runs at about half of its float32 GEMM; on an AMD Zen 5 (whose AVX512-BF16 dot
    // products retire twice the multiply-adds of its float32 FMAs, as on Zen 4) at twice it. AMX's
    // tiles outrun float32 on every CPU that has them.
    static const bool faster = [] {
        const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
        if (isa == dnnl_cpu_isa_avx512_core_amx) return true;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_cpu_init();
        return isa == dnnl_cpu_isa_avx512_core_bf16 && __builtin_cpu_is("amd");
#else
        return false;
#endif
    }();
    return faster;
}

void rethrow(const char* op, const dnnl::error& e) {
    throw RuntimeError(std::string(op) + ": oneDNN failed: " + e.what() + " (status " +
                       std::to_string(static_cast<int>(e.status)) + ")");
}

}  // namespace lazynn::onednn
