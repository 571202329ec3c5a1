// All-reduce cost on this machine: median time and effective bandwidth of distributed::all_reduce
// for gradient-sized float32 buffers. Run: mpirun -np 2 build/benchmarks/lazynn_allreduce
#include <lazynn/distributed.hpp>
#include <lazynn/lazynn.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
    namespace dist = lazynn::distributed;
    dist::Environment mpi(argc, argv);
    if (dist::rank() == 0) std::printf("%-12s %12s %14s\n", "bytes", "median_ms", "algbw_GB/s");
    for (std::int64_t elements : {1'024, 65'536, 225'034, 1'048'576, 4'194'304}) {
        lazynn::Tensor t = lazynn::ones({elements});
        std::vector<double> ms;
        for (int i = 0; i < 30; ++i) {
            dist::barrier();
            const auto start = std::chrono::steady_clock::now();
            dist::all_reduce(t);
            ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        }
        std::nth_element(ms.begin(), ms.begin() + 15, ms.end());
        const double bytes = static_cast<double>(elements) * 4;
        if (dist::rank() == 0) std::printf("%-12.0f %12.3f %14.2f\n", bytes, ms[15], bytes / (ms[15] * 1e-3) / 1e9);
    }
}
