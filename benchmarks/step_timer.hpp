#pragma once
// The timing rule every end-to-end workload program shares (lazynn's and libtorch's), so both
// report the same statistic: the median of `repeats` timed steps after `warmup` untimed ones.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace bench {

inline double median_ms(const std::function<void()>& step, int warmup, int repeats) {
    for (int i = 0; i < warmup; ++i) step();
    std::vector<double> times;
    for (int i = 0; i < repeats; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        step();
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::nth_element(times.begin(), times.begin() + static_cast<std::ptrdiff_t>(times.size() / 2), times.end());
    return times[times.size() / 2];
}

/// One "name milliseconds" line, the format run_side_by_side.sh joins on.
inline void report(const std::string& name, double ms) { std::printf("%s %.4f\n", name.c_str(), ms); }

}  // namespace bench
