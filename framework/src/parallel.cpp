#include "parallel.hpp"

#include "signals.hpp"

#include <lazynn/threads.hpp>

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#include <pthread.h>
#define LAZYNN_CPU_RELAX() _mm_pause()
#else
#define LAZYNN_CPU_RELAX() std::this_thread::yield()
#endif

namespace lazynn {
namespace detail {
namespace {

thread_local bool inside_parallel_region = false;

/// How long an idle thread keeps polling before it sleeps: long enough to catch the next op of
/// a training step without a futex round trip (the serial stretches between a step's parallel ops,
/// autograd bookkeeping and small ops, often outlast 50 us), short enough not to starve other
/// processes; libgomp's default spin is of the same order. 1 ms rather than 50 us measured CIFAR
/// inference at batch 1 0.44 -> 0.29 ms and the Fashion-MNIST-shaped CNN step 10.5 -> 8.9 ms
/// (docs/performance.md, "Threads").
constexpr auto kSpin = std::chrono::microseconds(1000);

/// lazynn owns the threading: the first use reads OpenBLAS's thread count (OPENBLAS_NUM_THREADS
/// or the core count) as lazynn's, then makes OpenBLAS single-threaded. GEMMs are split across
/// lazynn's pool instead, so no OpenBLAS thread ever spin-waits against lazynn's workers.
std::atomic<int>& thread_count() {
    static std::atomic<int> count{[] {
        const int initial = std::max(1, openblas_get_num_threads());
        openblas_set_num_threads(1);
        return initial;
    }()};
    return count;
}

template <class Done>
void spin_until(Done&& done) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (!done()) {
        for (int i = 0; i < 64 && !done(); ++i) LAZYNN_CPU_RELAX();
        if (std::chrono::steady_clock::now() > until) return;
    }
}

/// Workers poll, then sleep, waiting for the next job generation; each runs its chunk and counts
/// itself done. One job at a time: a second caller runs its work serially.
class Pool {
public:
    static Pool& instance() {
        static Pool pool;
        return pool;
    }

    bool run(const std::vector<std::int64_t>& bounds, const std::function<void(std::int64_t, std::int64_t)>& fn) {
        std::unique_lock busy(busy_, std::try_to_lock);
        if (!busy.owns_lock()) return false;
        const std::size_t chunks = bounds.size() - 1;
        ensure_workers(chunks - 1);
        job_ = &fn;
        bounds_ = &bounds;
        error_ = nullptr;
        active_workers_ = chunks - 1;
        // Every worker reports in, also those without a chunk, so none can lag into the next job.
        pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
        {
            std::lock_guard lock(mutex_);
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        run_chunk(fn, bounds[0], bounds[1]);
        spin_until([&] { return pending_.load(std::memory_order_acquire) == 0; });
        if (pending_.load(std::memory_order_acquire) != 0) {
            std::unique_lock lock(mutex_);
            done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
        }
        job_ = nullptr;
        if (error_) std::rethrow_exception(error_);
        return true;
    }

    ~Pool() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
            generation_.fetch_add(1, std::memory_order_release);
        }
        wake_.notify_all();
        for (auto& t : workers_) t.join();
    }

private:
    void ensure_workers(std::size_t count) {
        while (workers_.size() < count) {
            const std::size_t index = workers_.size();
            workers_.emplace_back([this, index] {
                pthread_setname_np(pthread_self(), "lazynn-worker");  // as top -H and gdb show it
                detail::hold_signals_for_good();                      // signals go to the user's threads (signals.hpp)
                work(index);
            });
        }
    }

    void run_chunk(const std::function<void(std::int64_t, std::int64_t)>& fn, std::int64_t begin, std::int64_t end) {
        inside_parallel_region = true;
        try {
            fn(begin, end);
        } catch (...) {
            std::lock_guard lock(mutex_);
            if (!error_) error_ = std::current_exception();
        }
        inside_parallel_region = false;
    }

    void work(std::size_t index) {
        std::uint64_t seen = 0;
        for (;;) {
            spin_until([&] { return generation_.load(std::memory_order_acquire) != seen; });
            {
                std::unique_lock lock(mutex_);
                wake_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
                seen = generation_.load(std::memory_order_acquire);
                if (stopping_) return;
            }
            if (index < active_workers_) run_chunk(*job_, (*bounds_)[index + 1], (*bounds_)[index + 2]);
            if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
                { std::lock_guard lock(mutex_); }  // the caller is either spinning or waiting under the lock
                done_.notify_one();
            }
        }
    }

    std::mutex busy_;
    std::mutex mutex_;
    std::condition_variable wake_, done_;
    std::vector<std::thread> workers_;
    const std::function<void(std::int64_t, std::int64_t)>* job_ = nullptr;
    const std::vector<std::int64_t>* bounds_ = nullptr;
    std::size_t active_workers_ = 0;
    std::atomic<int> pending_{0};
    std::atomic<std::uint64_t> generation_{0};
    bool stopping_ = false;
    std::exception_ptr error_;
};

}  // namespace

int intra_op_threads() { return thread_count().load(std::memory_order_relaxed); }

void set_intra_op_threads(int threads) {
    thread_count().store(threads, std::memory_order_relaxed);
    openblas_set_num_threads(1);
}

void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn) {
    if (n <= 0) return;
    const std::int64_t threads = std::min<std::int64_t>(intra_op_threads(), n / std::max<std::int64_t>(grain, 1));
    if (threads < 2 || inside_parallel_region) {
        fn(0, n);
        return;
    }
    std::vector<std::int64_t> bounds;
    for (std::int64_t t = 0; t <= threads; ++t) bounds.push_back(n * t / threads);
    if (!Pool::instance().run(bounds, fn)) fn(0, n);
}

}  // namespace detail
}  // namespace lazynn
