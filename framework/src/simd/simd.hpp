#pragma once
// Which SIMD architecture lazynn's vectorised kernels run on (internal; for backend_info()).

#include <string>

namespace lazynn::detail {

/// The architecture the kernel dispatcher picked (simd/dispatch.hpp): "avx512f", "avx2+fma",
/// "sse2" or "neon64". The widest the CPU supports, unless LAZYNN_SIMD caps it lower.
std::string simd_arch_name();

}  // namespace lazynn::detail
