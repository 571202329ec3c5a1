#pragma once
// Thread settings: one count for OpenBLAS's GEMMs and for lazynn's own kernels (convolution
// over the batch, pooling, large elementwise ops), which split work across a sleeping worker pool
// only above a size where it pays. One thread per core, no more: oversubscribed spin-waiting
// costs more than it gains on small machines. The default is OpenBLAS's (OPENBLAS_NUM_THREADS, or
// the core count).

namespace lazynn {

/// Sets how many threads OpenBLAS and lazynn's kernels use (>= 1).
void set_num_threads(int threads);
/// The current thread count.
int get_num_threads();

}  // namespace lazynn
