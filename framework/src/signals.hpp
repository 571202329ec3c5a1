#pragma once
// Holding asynchronous signals while oneDNN's float32 GEMM runs (internal header).
//
// oneDNN 2.6's f32 GEMM kernels (jit_avx_gemm_f32, jit_avx512_common_gemm_f32) point the stack
// pointer at a heap workspace while they run when K is large. A signal handler that runs on that
// thread meanwhile gets its frame written below the stack pointer, over malloc's chunk headers: a
// sample trainer's Ctrl-C handler aborted in glibc's heap check this way ("corrupted size vs.
// prev_size"). So lazynn never lets a handler run on a thread inside a oneDNN call: the calling
// thread holds asynchronous signals for the call (they are delivered right after it), and lazynn's
// pool workers hold them for good, so a signal sent to the process goes to a thread of the user's.
// Synchronous signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS) are never held: blocking
// one that a fault raises is undefined. docs/design.md, decision 18.

#include <csignal>

namespace lazynn::detail {

/// Holds asynchronous signals on the calling thread for the rest of its life (lazynn's pool
/// workers, which run only lazynn's work).
///   ensures: signals_held_here() on this thread.
void hold_signals_for_good();

/// Whether asynchronous signals are held on the calling thread (a worker, or inside SignalsHeld).
bool signals_held_here() noexcept;

/// Holds asynchronous signals on the calling thread while it lives; a pending one is delivered when
/// it ends. Costs two system calls (about half a microsecond) where signals are not held already,
/// none inside a worker or a nested scope.
///   ensures: signals_held_here() while it lives; the thread's signal mask as it was afterwards.
class SignalsHeld {
public:
    SignalsHeld() noexcept;
    ~SignalsHeld();
    SignalsHeld(const SignalsHeld&) = delete;
    SignalsHeld& operator=(const SignalsHeld&) = delete;

private:
    sigset_t previous_;
    bool changed_ = false;
};

}  // namespace lazynn::detail
