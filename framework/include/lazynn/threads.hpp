#pragma once
// Thread settings. lazynn's own kernels run on the calling thread; GEMMs go through OpenBLAS,
// whose thread count this sets. One thread per core, no more: oversubscribed spin-waiting
// costs more than it gains on small machines.

namespace lazynn {

/// Sets how many threads OpenBLAS uses (>= 1).
void set_num_threads(int threads);
/// The current OpenBLAS thread count.
int get_num_threads();

}  // namespace lazynn
