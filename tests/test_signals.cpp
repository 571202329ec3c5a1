// Signal handlers and oneDNN (docs/design.md, decision 18): a handler never runs on a thread while
// oneDNN's float32 GEMM kernels have moved its stack pointer onto a heap workspace. Before the fix a
// SIGUSR1 storm during Linear's GEMMs (K = 784) aborted the process in glibc's heap check within
// about 0.1 s, and a handler found its own frame outside the thread's stack; here every handler runs on
// the thread's stack, the numbers are those without the storm, and the handler still runs.
#include "test_support.hpp"

#include <lazynn/lazynn.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>

#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace lazynn;

namespace {

std::atomic<long> g_handled{0};
std::atomic<long> g_handled_off_main{0};
std::atomic<long> g_handled_off_stack{0};
/// The kernel's ids of the threads other than the test's that ran the handler (the first 64).
std::array<std::atomic<pid_t>, 64> g_other_threads{};
pthread_t g_main_thread;
std::uintptr_t g_stack_low = 0, g_stack_high = 0;

/// Counts the signal, whether it ran on another thread than the test's, and whether its frame lay
/// outside the test thread's stack: what oneDNN's heap stack does to a handler, seen directly
/// rather than through the heap damage it does (which glibc notices only sometimes).
extern "C" void count_signal(int) {
    g_handled.fetch_add(1, std::memory_order_relaxed);
    if (!pthread_equal(pthread_self(), g_main_thread)) {
        const long n = g_handled_off_main.fetch_add(1, std::memory_order_relaxed);
        if (n < static_cast<long>(g_other_threads.size()))
            g_other_threads[n] = static_cast<pid_t>(::syscall(SYS_gettid));
        return;
    }
    const char probe = 0;
    const auto here = reinterpret_cast<std::uintptr_t>(&probe);
    if (here < g_stack_low || here >= g_stack_high) g_handled_off_stack.fetch_add(1, std::memory_order_relaxed);
}

/// The calling thread's stack, [low, high).
void record_stack_bounds() {
    pthread_attr_t attr;
    REQUIRE(pthread_getattr_np(pthread_self(), &attr) == 0);
    void* low = nullptr;
    std::size_t size = 0;
    REQUIRE(pthread_attr_getstack(&attr, &low, &size) == 0);
    pthread_attr_destroy(&attr);
    g_stack_low = reinterpret_cast<std::uintptr_t>(low);
    g_stack_high = g_stack_low + size;
}

/// Installs count_signal for SIGUSR1 while it lives, then puts the previous action back.
class CountingHandler {
public:
    CountingHandler() {
        g_handled = 0;
        g_handled_off_main = 0;
        g_handled_off_stack = 0;
        for (auto& tid : g_other_threads) tid = 0;
        g_main_thread = pthread_self();
        record_stack_bounds();
        struct sigaction action {};
        action.sa_handler = count_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESTART;
        sigaction(SIGUSR1, &action, &previous_);
    }
    ~CountingHandler() { sigaction(SIGUSR1, &previous_, nullptr); }

private:
    struct sigaction previous_ {};
};

/// Sends SIGUSR1 as fast as it can while it lives: to the test's thread, or to the whole process.
class SignalStorm {
public:
    explicit SignalStorm(bool to_process) : target_(pthread_self()) {
        sender_ = std::thread([this, to_process] {
            // The sender takes none itself, so a signal sent to the process has only the test's
            // thread and lazynn's workers to go to.
            sigset_t usr1;
            sigemptyset(&usr1);
            sigaddset(&usr1, SIGUSR1);
            pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
            while (!stop_.load()) {
                if (to_process) {
                    ::kill(::getpid(), SIGUSR1);
                } else {
                    pthread_kill(target_, SIGUSR1);
                }
                for (int spin = 0; spin < 2000; spin = spin + 1) std::atomic_signal_fence(std::memory_order_seq_cst);
            }
        });
    }
    ~SignalStorm() {
        stop_ = true;
        sender_.join();
    }

private:
    pthread_t target_;
    std::atomic<bool> stop_{false};
    std::thread sender_;
};

struct StepResult {
    Tensor out, weight_grad;
};

/// One forward and backward of a Linear whose GEMMs have K = 784 (a heap stack in oneDNN's kernel)
/// and, if given, of a convolution with K = 64 * 9, plus heap traffic that makes glibc check its chunks.
StepResult step(nn::Linear& linear, nn::Conv2d* conv, const Tensor& x, const Tensor& image) {
    linear.zero_grad();
    const Tensor out = linear(x);
    Tensor loss = out.sum();
    if (conv) {
        conv->zero_grad();
        loss = loss + (*conv)(image).sum();
    }
    loss.backward();
    std::free(std::malloc(70000));  // a large request consolidates malloc's fast bins
    return {out, linear.weight.grad()};
}

/// The names of the threads other than the test's that ran the handler ("lazynn-worker" for
/// lazynn's pool; OpenBLAS's own threads, when it has some, may take signals and do no harm).
std::vector<std::string> other_threads_that_handled() {
    std::vector<std::string> names;
    for (const auto& tid : g_other_threads) {
        if (tid == 0) continue;
        std::ifstream comm("/proc/self/task/" + std::to_string(tid.load()) + "/comm");
        std::string name;
        std::getline(comm, name);
        names.push_back(name);
    }
    return names;
}

bool sigusr1_blocked_here() {
    sigset_t current;
    pthread_sigmask(SIG_BLOCK, nullptr, &current);
    return sigismember(&current, SIGUSR1) == 1;
}

}  // namespace

TEST_SUITE("signals") {
    TEST_CASE("a signal handled on the calling thread during oneDNN's GEMMs leaves the heap and the numbers alone") {
        manual_seed(3);
        nn::Linear linear(784, 256);
        const Tensor x = randn({16, 784});
        const StepResult quiet = step(linear, nullptr, x, Tensor());
        CountingHandler handler;
        {
            SignalStorm storm(false);
            for (int i = 0; i < 100; ++i) {
                const StepResult stormy = step(linear, nullptr, x, Tensor());
                REQUIRE(equal(stormy.out, quiet.out));
                REQUIRE(equal(stormy.weight_grad, quiet.weight_grad));
            }
        }
        CHECK(g_handled.load() > 0);             // the signals did arrive, after the calls,
        CHECK(g_handled_off_stack.load() == 0);  // each on the thread's own stack,
        CHECK_FALSE(sigusr1_blocked_here());     // and the thread's mask is as it was
    }

    TEST_CASE("lazynn's workers hold signals: one sent to the process reaches the user's thread") {
        const int previous = get_num_threads();
        set_num_threads(2);
        manual_seed(4);
        nn::Linear linear(784, 512);
        nn::Conv2d conv(nn::Conv2dOptions(64, 8, 3));
        const Tensor x = randn({64, 784}), image = randn({4, 64, 10, 10});
        const StepResult quiet = step(linear, &conv, x, image);  // starts the worker
        CountingHandler handler;
        {
            SignalStorm storm(true);
            for (int i = 0; i < 40; ++i) {
                const StepResult stormy = step(linear, &conv, x, image);
                REQUIRE(equal(stormy.weight_grad, quiet.weight_grad));
            }
        }
        set_num_threads(previous);
        CHECK(g_handled.load() > 0);
        for (const std::string& name : other_threads_that_handled()) {
            CHECK_MESSAGE(name != "lazynn-worker", "a lazynn worker, which may be inside oneDNN, ran a handler");
        }
        CHECK(g_handled_off_stack.load() == 0);
        CHECK_FALSE(sigusr1_blocked_here());
    }
}
