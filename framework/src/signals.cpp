#include "signals.hpp"

#include <initializer_list>

#include <pthread.h>

namespace lazynn::detail {
namespace {

thread_local bool held = false;

/// Every signal but the synchronous ones, which a fault raises on the faulting thread and which
/// must stay deliverable (a held SIGSEGV raised by a fault kills the process without its handler).
sigset_t asynchronous_signals() {
    sigset_t set;
    sigfillset(&set);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS}) sigdelset(&set, sig);
    return set;
}

/// Built once: SignalsHeld is on the path of every oneDNN call.
const sigset_t& held_set() {
    static const sigset_t set = asynchronous_signals();
    return set;
}

}  // namespace

void hold_signals_for_good() {
    const sigset_t& set = held_set();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    held = true;
}

bool signals_held_here() noexcept { return held; }

SignalsHeld::SignalsHeld() noexcept {
    if (held) return;
    const sigset_t& set = held_set();
    changed_ = pthread_sigmask(SIG_BLOCK, &set, &previous_) == 0;
    held = changed_;
}

SignalsHeld::~SignalsHeld() {
    if (!changed_) return;
    held = false;
    pthread_sigmask(SIG_SETMASK, &previous_, nullptr);
}

}  // namespace lazynn::detail
