#pragma once
// Intra-op parallelism for lazynn's own kernels (internal header).
//
// A small pool of worker threads (set_num_threads() - 1 of them, started on first use) runs
// contiguous chunks of an index range, the calling thread taking the first chunk. Idle workers
// poll for 50 us (the next op of a step usually comes sooner) and then sleep on a condition
// variable, so an idle pool costs nothing. OpenBLAS is kept single-threaded and GEMMs are split
// over this pool (ops/gemm.hpp), so two thread pools never spin against each other on few cores.
// Work smaller than a kernel's grain runs serially on the caller.

#include <cstdint>
#include <functional>

namespace lazynn::detail {

/// The number of threads lazynn's kernels may use (set_num_threads()). The first call takes
/// OpenBLAS's count and makes OpenBLAS itself single-threaded: lazynn splits GEMMs itself.
int intra_op_threads();
void set_intra_op_threads(int threads);

/// Calls fn(begin, end) on disjoint chunks covering [0, n), each at least `grain` long, on up
/// to intra_op_threads() threads; returns when all are done and rethrows the first exception.
/// Runs serially when nested, when another thread is using the pool, or when n < 2 * grain.
void parallel_for(std::int64_t n, std::int64_t grain, const std::function<void(std::int64_t, std::int64_t)>& fn);

}  // namespace lazynn::detail
