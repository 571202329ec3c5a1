#pragma once
// Run-time dispatch of the SIMD kernels (internal). Each kernel family is a class template on an
// xsimd architecture (simd/kernels.hpp), instantiated once per architecture in a translation unit
// compiled for that architecture (simd/arch_*.cpp, flags in framework/CMakeLists.txt). Callers,
// compiled for the baseline, reach the instantiation the CPU can run through dispatch().
//
// This walks the architecture list like xsimd::dispatch does, but against an architecture picked
// once by selected_arch_version() instead of xsimd's CPU probe alone: the environment variable
// LAZYNN_SIMD (sse2, avx2, avx512; neon on ARM) caps it, so tests can run every path on one
// machine, and the probe also asks whether the OS saves the wide registers.

#include <cstddef>  // before xsimd: 8.1's NEON register header uses size_t without including it
#include <cstdint>

#include <xsimd/config/xsimd_arch.hpp>

namespace lazynn::simd {

#if defined(__x86_64__) || defined(_M_X64)
/// Widest first. AVX-512F (not BW/DQ) is all the float kernels need, so Xeon Phi runs them too.
using Archs = xsimd::arch_list<xsimd::avx512f, xsimd::fma3<xsimd::avx2>, xsimd::sse2>;
#elif defined(__aarch64__)
using Archs = xsimd::arch_list<xsimd::neon64>;
#else
#error "lazynn's SIMD kernels are built for x86-64 and aarch64 (framework/src/simd/dispatch.hpp)"
#endif

/// xsimd's version number of the architecture the kernels run on: the widest of Archs that the
/// CPU supports and LAZYNN_SIMD allows. Picked at the first call.
unsigned selected_arch_version();

namespace detail {

template <class F, class Arch, class... Narrower>
decltype(auto) walk(F& f, xsimd::arch_list<Arch, Narrower...>, unsigned picked, std::int64_t lanes_available,
                    std::int64_t element_bytes) {
    constexpr auto register_bytes = static_cast<std::int64_t>(Arch::alignment());
    if constexpr (sizeof...(Narrower) == 0) {
        return f(Arch{});
    } else {
        if (Arch::version() <= picked && register_bytes <= lanes_available * element_bytes) return f(Arch{});
        return walk(f, xsimd::arch_list<Narrower...>{}, picked, lanes_available, element_bytes);
    }
}

}  // namespace detail

/// f(Arch{}) for the selected architecture.
template <class F>
decltype(auto) dispatch(F&& f) {
    return detail::walk(f, Archs{}, selected_arch_version(), INT64_MAX / 64, 1);
}

/// The narrowest register in Archs, in bytes (16 on every supported target).
inline constexpr std::int64_t kNarrowestRegisterBytes = 16;

/// Whether `lanes` elements of T fill at least the narrowest register (dispatch_fitting's requirement).
template <class T>
constexpr bool fills_narrowest_register(std::int64_t lanes) {
    return lanes * static_cast<std::int64_t>(sizeof(T)) >= kNarrowestRegisterBytes;
}

/// f(Arch{}) for the widest architecture, up to the selected one, whose register of T holds at
/// most `lanes` elements, for kernels over rows too short for the widest registers; needs
/// lanes * sizeof(T) >= kNarrowestRegisterBytes.
template <class T, class F>
decltype(auto) dispatch_fitting(std::int64_t lanes, F&& f) {
    return detail::walk(f, Archs{}, selected_arch_version(), lanes, static_cast<std::int64_t>(sizeof(T)));
}

}  // namespace lazynn::simd
