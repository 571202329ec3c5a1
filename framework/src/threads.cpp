#include <lazynn/error.hpp>
#include <lazynn/threads.hpp>

#include <cblas.h>

namespace lazynn {

void set_num_threads(int threads) {
    if (threads < 1) throw ValueError("set_num_threads: expected at least 1 thread, got " + std::to_string(threads));
    openblas_set_num_threads(threads);
}

int get_num_threads() { return openblas_get_num_threads(); }

}  // namespace lazynn
