#include "caching_allocator.hpp"

#include <lazynn/error.hpp>

#include <sys/mman.h>

#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <string>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace lazynn::detail {
namespace {

constexpr std::size_t kAlignment = 64;
/// At most this much free memory is kept for reuse. A training step reuses the same sizes every
/// step, so its working set stays cached; a phase with other sizes (evaluation with a bigger
/// batch) misses, and a miss while much sits idle hands the idle blocks back first, so the peak
/// footprint is the larger phase's, not the sum of both.
constexpr std::size_t kCacheLimit = std::size_t{256} << 20;
/// Blocks above this size are not kept: glibc maps them fresh and unmaps them on free, and their
/// page faults are small next to the work done on that much data (an evaluation batch), while
/// keeping them would hold the largest tensors' memory twice over.
constexpr std::size_t kMaxCachedBlock = std::size_t{32} << 20;
/// A miss while this much sits idle returns the idle blocks first.
constexpr std::size_t kReleaseOnMiss = std::size_t{64} << 20;

/// Blocks from this size up are mapped from the OS directly and unmapped when not cached, so
/// they never fragment malloc's heap: glibc would otherwise serve them from a heap that grows
/// with every size ever freed and never shrinks (its adaptive mmap threshold climbs to 32 MiB),
/// which made an evaluation pass with bigger batches hold on to hundreds of megabytes.
constexpr std::size_t kMapThreshold = std::size_t{256} << 10;

/// Mappings from this size up ask for transparent huge pages (where the system's setting is
/// "madvise", as on Debian): the first touch of a fresh 2 MiB then costs one page fault instead of
/// 512, which is most of the cost of a large evaluation batch's activations (PyTorch's CPU
/// allocator does the same under THP_MEM_ALLOC_ENABLE).
constexpr std::size_t kHugePageThreshold = std::size_t{4} << 20;

/// PyTorch's wording for the CPU allocator's failure, with the size that was asked for.
[[noreturn]] void throw_out_of_memory(std::size_t bytes, int error) {
    throw RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate " + std::to_string(bytes) +
                       " bytes (" + std::strerror(error) + ")");
}

void* raw_allocate(std::size_t size) {
    if (size >= kMapThreshold) {
        void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) throw_out_of_memory(size, errno);
        if (size >= kHugePageThreshold) (void)::madvise(p, size, MADV_HUGEPAGE);  // a hint: failure is harmless
        return p;  // page-aligned, which satisfies kAlignment
    }
    void* p = std::aligned_alloc(kAlignment, (size + kAlignment - 1) / kAlignment * kAlignment);
    if (!p) throw_out_of_memory(size, ENOMEM);
    return p;
}

void raw_free(void* p, std::size_t size) noexcept {
    if (size >= kMapThreshold) {
        ::munmap(p, size);
    } else {
        std::free(p);
    }
}

/// Above this a request cannot be rounded up to a size class (or mapped) without wrapping around.
constexpr std::size_t kMaxRequest = std::numeric_limits<std::size_t>::max() / 4;

/// Rounds up to a size class: multiples of 64 below 512 bytes, else 8 steps per power of two.
std::size_t size_class(std::size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (bytes > kMaxRequest) throw_out_of_memory(bytes, ENOMEM);
    if (bytes <= 512) return (bytes + kAlignment - 1) / kAlignment * kAlignment;
    const std::size_t power = std::bit_floor(bytes);
    const std::size_t step = power / 8;
    return (bytes + step - 1) / step * step;
}

struct Cache {
    std::mutex mutex;
    std::unordered_map<std::size_t, std::vector<void*>> free_blocks;
    std::size_t bytes = 0;

    ~Cache() { release(); }
    void release() {
        std::lock_guard lock(mutex);
        for (auto& [size, blocks] : free_blocks) {
            for (void* p : blocks) raw_free(p, size);
        }
        free_blocks.clear();
        bytes = 0;
    }
};

Cache& cache() {
    static Cache* c = new Cache();  // never destroyed: tensors may outlive static destruction order
    return *c;
}

}  // namespace

void* cached_allocate(std::size_t bytes) {
    const std::size_t size = size_class(bytes);
    Cache& c = cache();
    {
        std::lock_guard lock(c.mutex);
        auto it = c.free_blocks.find(size);
        if (it != c.free_blocks.end() && !it->second.empty()) {
            void* p = it->second.back();
            it->second.pop_back();
            c.bytes -= size;
            return p;
        }
        if (c.bytes > kReleaseOnMiss) {
            for (auto& [block_size, blocks] : c.free_blocks) {
                for (void* q : blocks) raw_free(q, block_size);
                blocks.clear();
            }
            c.bytes = 0;
        }
    }
    return raw_allocate(size);
}

void throw_allocation_overflow(std::size_t count, std::size_t element_size) {
    throw RuntimeError("DefaultCPUAllocator: cannot allocate " + std::to_string(count) + " elements of " +
                       std::to_string(element_size) + " bytes: the size overflows " +
                       std::to_string(sizeof(std::size_t) * 8) + " bits");
}

void cached_deallocate(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    const std::size_t size = size_class(bytes);
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    if (size > kMaxCachedBlock || c.bytes + size > kCacheLimit) {
        raw_free(p, size);
        return;
    }
    try {
        c.free_blocks[size].push_back(p);
        c.bytes += size;
    } catch (...) {
        raw_free(p, size);
    }
}

void empty_cache() { cache().release(); }

std::size_t cached_bytes() {
    std::lock_guard lock(cache().mutex);
    return cache().bytes;
}

}  // namespace lazynn::detail
