#pragma once
// A caching allocator for tensor storage (internal). Freed blocks go to per-size free lists and
// are handed out again, so a training loop whose step allocates the same sizes every time stops
// calling malloc/mmap (and stops page-faulting fresh memory) after the first step. Sizes are
// rounded up to size classes at most 1/8 above the request, bounding the waste.

#include <cstddef>
#include <new>

namespace lazynn::detail {

/// Throws lazynn::RuntimeError naming the size when the system cannot provide `bytes`.
void* cached_allocate(std::size_t bytes);
/// The RuntimeError for `count` elements of `element_size` bytes whose product overflows.
[[noreturn]] void throw_allocation_overflow(std::size_t count, std::size_t element_size);
void cached_deallocate(void* p, std::size_t bytes) noexcept;
/// Returns every cached block to the system; the bytes currently cached.
void empty_cache();
std::size_t cached_bytes();

/// A stateless std-style allocator over the cache, 64-byte aligned.
template <class T>
struct CachingAllocator {
    using value_type = T;
    CachingAllocator() = default;
    template <class U>
    CachingAllocator(const CachingAllocator<U>&) noexcept {}  // NOLINT
    T* allocate(std::size_t n) {
        std::size_t bytes = 0;
        if (__builtin_mul_overflow(n, sizeof(T), &bytes)) throw_allocation_overflow(n, sizeof(T));
        return static_cast<T*>(cached_allocate(bytes));
    }
    void deallocate(T* p, std::size_t n) noexcept { cached_deallocate(p, n * sizeof(T)); }
    template <class U>
    bool operator==(const CachingAllocator<U>&) const noexcept {
        return true;
    }
    template <class U>
    bool operator!=(const CachingAllocator<U>&) const noexcept {
        return false;
    }
    template <class U>
    struct rebind {
        using other = CachingAllocator<U>;
    };
};

}  // namespace lazynn::detail
