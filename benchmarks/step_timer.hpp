#pragma once
// The timing rule every end-to-end workload program shares (lazynn's and libtorch's), so both
// report the same statistic: the median of `repeats` timed steps after `warmup` untimed ones; and
// the one command-line number they all take.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
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

/// argv[1] as a whole number in [low, high] (`fallback` without it); anything else prints the usage
/// line and exits with status 2, instead of an exception escaping main.
inline int count_arg(int argc, char** argv, const char* what, int fallback, int low, int high) {
    if (argc < 2) return fallback;
    char* end = nullptr;
    const long value = std::strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || value < low || value > high) {
        std::fprintf(stderr, "usage: %s [%s: a whole number from %d to %d, default %d]\n", argv[0], what, low, high,
                     fallback);
        std::exit(2);
    }
    return static_cast<int>(value);
}

/// One "name milliseconds" line, the format run_side_by_side.sh joins on.
inline void report(const std::string& name, double ms) { std::printf("%s %.4f\n", name.c_str(), ms); }

}  // namespace bench
