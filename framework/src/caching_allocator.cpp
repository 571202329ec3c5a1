#include "caching_allocator.hpp"

#include <bit>
#include <cstdlib>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace lazynn::detail {
namespace {

constexpr std::size_t kAlignment = 64;
constexpr std::size_t kCacheLimit = std::size_t{2} << 30;   // stop caching beyond 2 GiB of free blocks

/// Rounds up to a size class: multiples of 64 below 512 bytes, else 8 steps per power of two.
std::size_t size_class(std::size_t bytes) {
    if (bytes == 0) bytes = 1;
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
            for (void* p : blocks) std::free(p);
        }
        free_blocks.clear();
        bytes = 0;
    }
};

Cache& cache() {
    static Cache* c = new Cache();   // never destroyed: tensors may outlive static destruction order
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
    }
    void* p = std::aligned_alloc(kAlignment, (size + kAlignment - 1) / kAlignment * kAlignment);
    if (!p) throw std::bad_alloc();
    return p;
}

void cached_deallocate(void* p, std::size_t bytes) noexcept {
    if (!p) return;
    const std::size_t size = size_class(bytes);
    Cache& c = cache();
    std::lock_guard lock(c.mutex);
    if (c.bytes + size > kCacheLimit) {
        std::free(p);
        return;
    }
    try {
        c.free_blocks[size].push_back(p);
        c.bytes += size;
    } catch (...) {
        std::free(p);
    }
}

void empty_cache() { cache().release(); }

std::size_t cached_bytes() {
    std::lock_guard lock(cache().mutex);
    return cache().bytes;
}

}  // namespace lazynn::detail
