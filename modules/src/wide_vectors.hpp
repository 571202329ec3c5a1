#pragma once
// Fixed-width vectors for the hand-vectorised kernels (pooling, Winograd), written with GCC vector
// extensions so the same source compiles to SSE in the baseline clone and AVX2 in the x86-64-v3
// clone (multiversion.hpp). Internal; include only from multiversioned .cpp files.

#include "multiversion.hpp"

#include <cstdint>
#include <cstring>

// Every helper taking or returning a vector is LAZYNN_KERNEL_INLINE, so no vector crosses a call
// (the build passes -Wno-psabi for files including this).

namespace lazynn::nn::functional::detail::wide {

/// Vectors of T of a given byte width, and the shuffles that split two vectors of adjacent pairs
/// into their first (even) and second (odd) members and zip them back.
template <class T, int Bytes>
struct Wide;

template <>
struct Wide<float, 32> {
    typedef float Vector __attribute__((vector_size(32)));
    typedef std::int32_t Index __attribute__((vector_size(32)));
    static constexpr int lanes = 8;
    static constexpr Index even{0, 2, 4, 6, 8, 10, 12, 14}, odd{1, 3, 5, 7, 9, 11, 13, 15};
    static constexpr Index zip_low{0, 8, 1, 9, 2, 10, 3, 11}, zip_high{4, 12, 5, 13, 6, 14, 7, 15};
};

template <>
struct Wide<float, 16> {
    typedef float Vector __attribute__((vector_size(16)));
    typedef std::int32_t Index __attribute__((vector_size(16)));
    static constexpr int lanes = 4;
    static constexpr Index even{0, 2, 4, 6}, odd{1, 3, 5, 7}, zip_low{0, 4, 1, 5}, zip_high{2, 6, 3, 7};
};

template <>
struct Wide<double, 32> {
    typedef double Vector __attribute__((vector_size(32)));
    typedef std::int64_t Index __attribute__((vector_size(32)));
    static constexpr int lanes = 4;
    static constexpr Index even{0, 2, 4, 6}, odd{1, 3, 5, 7}, zip_low{0, 4, 1, 5}, zip_high{2, 6, 3, 7};
};

template <>
struct Wide<double, 16> {
    typedef double Vector __attribute__((vector_size(16)));
    typedef std::int64_t Index __attribute__((vector_size(16)));
    static constexpr int lanes = 2;
    static constexpr Index even{0, 2}, odd{1, 3}, zip_low{0, 2}, zip_high{1, 3};
};

template <class W>
LAZYNN_KERNEL_INLINE typename W::Vector load(const void* p) {
    typename W::Vector v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <class V>
LAZYNN_KERNEL_INLINE void store(void* p, V v) {
    std::memcpy(p, &v, sizeof v);
}

/// Runs block(x) over a row of `windows` windows, W::lanes at a time; a partial last block
/// overlaps the one before it (recomputing a window writes the same values). Needs
/// windows >= W::lanes.
template <class W, class Block>
LAZYNN_KERNEL_INLINE void over_row(std::int64_t windows, Block&& block) {
    std::int64_t x = 0;
    for (; x + W::lanes <= windows; x += W::lanes) block(x);
    if (x < windows) block(windows - W::lanes);
}

/// Calls f(Wide<T, 32>{}) when a row of `blocks` elements fills at least one 32-byte vector,
/// f(Wide<T, 16>{}) when it fills a 16-byte one; returns false (without calling f) otherwise.
template <class T, class F>
LAZYNN_KERNEL_INLINE bool with_widest(std::int64_t blocks, F&& f) {
    if (blocks >= Wide<T, 32>::lanes) {
        f(Wide<T, 32>{});
        return true;
    }
    if (blocks >= Wide<T, 16>::lanes) {
        f(Wide<T, 16>{});
        return true;
    }
    return false;
}

}  // namespace lazynn::nn::functional::detail::wide
