#include <lazynn/error.hpp>
#include <lazynn/threads.hpp>

#include "parallel.hpp"

namespace lazynn {
void set_num_threads(int threads) {
    if (threads < 1) throw ValueError("set_num_threads: expected at least 1 thread, got " + std::to_string(threads));
    detail::set_intra_op_threads(threads);
}

int get_num_threads() { return detail::intra_op_threads(); }

}  // namespace lazynn
