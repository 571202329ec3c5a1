#pragma once
// Helpers for the kernel definitions (*_simd.hpp), included only by the per-architecture
// translation units: lane shuffles xsimd 8.1 lacks (its AVX zip_lo/zip_hi stay within 128-bit
// halves), widening loads, and loops over whole registers with a padded last step.
//
// Everything here is a template on the architecture, so each instantiation lives in the one
// translation unit compiled for it and no code built for a wide architecture can be shared
// with a narrower one by the linker.

#include <xsimd/xsimd.hpp>

#include <cstdint>
#include <cstring>

namespace lazynn::simd {

template <class T, class Arch>
using Batch = xsimd::batch<T, Arch>;

/// Two registers: the even and odd lanes of a pair, or the low and high halves of a zip.
template <class B>
struct Two {
    B first, second;
};

namespace lanes_detail {

using xsimd::kernel::requires_arch;

#if XSIMD_WITH_SSE2
template <class A>
Two<Batch<float, A>> deinterleave(Batch<float, A> a, Batch<float, A> b, requires_arch<xsimd::sse2>) {
    return {_mm_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)), _mm_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1))};
}
template <class A>
Two<Batch<double, A>> deinterleave(Batch<double, A> a, Batch<double, A> b, requires_arch<xsimd::sse2>) {
    return {_mm_unpacklo_pd(a, b), _mm_unpackhi_pd(a, b)};
}
template <class A>
Two<Batch<float, A>> interleave(Batch<float, A> even, Batch<float, A> odd, requires_arch<xsimd::sse2>) {
    return {_mm_unpacklo_ps(even, odd), _mm_unpackhi_ps(even, odd)};
}
template <class A>
Two<Batch<double, A>> interleave(Batch<double, A> even, Batch<double, A> odd, requires_arch<xsimd::sse2>) {
    return {_mm_unpacklo_pd(even, odd), _mm_unpackhi_pd(even, odd)};
}
template <class A>
Batch<double, A> load_widened(const float* p, requires_arch<xsimd::sse2>) {
    return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
}
template <class A>
Batch<std::uint32_t, A> load_zero_extended(const std::uint16_t* p, requires_arch<xsimd::sse2>) {
    return _mm_unpacklo_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)), _mm_setzero_si128());
}
template <class A>
void store_low_halves(std::uint16_t* p, Batch<std::uint32_t, A> v, requires_arch<xsimd::sse2>) {
    // SSE2 packs with signed saturation only: sign-extend the low halves first, so none saturates.
    const __m128i low = _mm_srai_epi32(_mm_slli_epi32(v, 16), 16);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_packs_epi32(low, low));
}
#endif

#if XSIMD_WITH_AVX2
template <class A>
Two<Batch<float, A>> deinterleave(Batch<float, A> a, Batch<float, A> b, requires_arch<xsimd::avx2>) {
    // Within each 128-bit half: a0 a2 b0 b2 | a4 a6 b4 b6; then the 64-bit quarters in order 0 2 1 3.
    const __m256d even = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(2, 0, 2, 0)));
    const __m256d odd = _mm256_castps_pd(_mm256_shuffle_ps(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
    return {_mm256_castpd_ps(_mm256_permute4x64_pd(even, _MM_SHUFFLE(3, 1, 2, 0))),
            _mm256_castpd_ps(_mm256_permute4x64_pd(odd, _MM_SHUFFLE(3, 1, 2, 0)))};
}
template <class A>
Two<Batch<double, A>> deinterleave(Batch<double, A> a, Batch<double, A> b, requires_arch<xsimd::avx2>) {
    return {_mm256_permute4x64_pd(_mm256_unpacklo_pd(a, b), _MM_SHUFFLE(3, 1, 2, 0)),
            _mm256_permute4x64_pd(_mm256_unpackhi_pd(a, b), _MM_SHUFFLE(3, 1, 2, 0))};
}
template <class A>
Two<Batch<float, A>> interleave(Batch<float, A> even, Batch<float, A> odd, requires_arch<xsimd::avx2>) {
    const __m256 low = _mm256_unpacklo_ps(even, odd), high = _mm256_unpackhi_ps(even, odd);
    return {_mm256_permute2f128_ps(low, high, 0x20), _mm256_permute2f128_ps(low, high, 0x31)};
}
template <class A>
Two<Batch<double, A>> interleave(Batch<double, A> even, Batch<double, A> odd, requires_arch<xsimd::avx2>) {
    const __m256d low = _mm256_unpacklo_pd(even, odd), high = _mm256_unpackhi_pd(even, odd);
    return {_mm256_permute2f128_pd(low, high, 0x20), _mm256_permute2f128_pd(low, high, 0x31)};
}
template <class A>
Batch<double, A> load_widened(const float* p, requires_arch<xsimd::avx2>) {
    return _mm256_cvtps_pd(_mm_loadu_ps(p));
}
template <class A>
Batch<std::uint32_t, A> load_zero_extended(const std::uint16_t* p, requires_arch<xsimd::avx2>) {
    return _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
template <class A>
void store_low_halves(std::uint16_t* p, Batch<std::uint32_t, A> v, requires_arch<xsimd::avx2>) {
    const __m256i low = _mm256_and_si256(v, _mm256_set1_epi32(0xFFFF));
    const __m128i packed = _mm_packus_epi32(_mm256_castsi256_si128(low), _mm256_extracti128_si256(low, 1));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), packed);
}
#endif

#if XSIMD_WITH_AVX512F
template <class A>
Two<Batch<float, A>> deinterleave(Batch<float, A> a, Batch<float, A> b, requires_arch<xsimd::avx512f>) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    return {_mm512_permutex2var_ps(a, even, b), _mm512_permutex2var_ps(a, odd, b)};
}
template <class A>
Two<Batch<double, A>> deinterleave(Batch<double, A> a, Batch<double, A> b, requires_arch<xsimd::avx512f>) {
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14),
                  odd = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    return {_mm512_permutex2var_pd(a, even, b), _mm512_permutex2var_pd(a, odd, b)};
}
template <class A>
Two<Batch<float, A>> interleave(Batch<float, A> even, Batch<float, A> odd, requires_arch<xsimd::avx512f>) {
    const __m512i low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    return {_mm512_permutex2var_ps(even, low, odd), _mm512_permutex2var_ps(even, high, odd)};
}
template <class A>
Two<Batch<double, A>> interleave(Batch<double, A> even, Batch<double, A> odd, requires_arch<xsimd::avx512f>) {
    const __m512i low = _mm512_setr_epi64(0, 8, 1, 9, 2, 10, 3, 11),
                  high = _mm512_setr_epi64(4, 12, 5, 13, 6, 14, 7, 15);
    return {_mm512_permutex2var_pd(even, low, odd), _mm512_permutex2var_pd(even, high, odd)};
}
template <class A>
Batch<double, A> load_widened(const float* p, requires_arch<xsimd::avx512f>) {
    return _mm512_cvtps_pd(_mm256_loadu_ps(p));
}
template <class A>
Batch<std::uint32_t, A> load_zero_extended(const std::uint16_t* p, requires_arch<xsimd::avx512f>) {
    return _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
template <class A>
void store_low_halves(std::uint16_t* p, Batch<std::uint32_t, A> v, requires_arch<xsimd::avx512f>) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_cvtepi32_epi16(v));
}
#endif

#if XSIMD_WITH_NEON64
template <class A>
Two<Batch<float, A>> deinterleave(Batch<float, A> a, Batch<float, A> b, requires_arch<xsimd::neon64>) {
    return {vuzp1q_f32(a, b), vuzp2q_f32(a, b)};
}
template <class A>
Two<Batch<double, A>> deinterleave(Batch<double, A> a, Batch<double, A> b, requires_arch<xsimd::neon64>) {
    return {vuzp1q_f64(a, b), vuzp2q_f64(a, b)};
}
template <class A>
Two<Batch<float, A>> interleave(Batch<float, A> even, Batch<float, A> odd, requires_arch<xsimd::neon64>) {
    return {vzip1q_f32(even, odd), vzip2q_f32(even, odd)};
}
template <class A>
Two<Batch<double, A>> interleave(Batch<double, A> even, Batch<double, A> odd, requires_arch<xsimd::neon64>) {
    return {vzip1q_f64(even, odd), vzip2q_f64(even, odd)};
}
template <class A>
Batch<double, A> load_widened(const float* p, requires_arch<xsimd::neon64>) {
    return vcvt_f64_f32(vld1_f32(p));
}
template <class A>
Batch<std::uint32_t, A> load_zero_extended(const std::uint16_t* p, requires_arch<xsimd::neon64>) {
    return vmovl_u16(vld1_u16(p));
}
template <class A>
void store_low_halves(std::uint16_t* p, Batch<std::uint32_t, A> v, requires_arch<xsimd::neon64>) {
    vst1_u16(p, vmovn_u32(v));
}
#endif

}  // namespace lanes_detail

/// The even and odd lanes of the concatenation (a, b): {a0 a2 .. b0 b2 ..}, {a1 a3 .. b1 b3 ..}.
template <class T, class A>
Two<Batch<T, A>> deinterleave(Batch<T, A> a, Batch<T, A> b) {
    return lanes_detail::deinterleave<A>(a, b, A{});
}

/// The inverse of deinterleave: {e0 o0 e1 o1 ..} (first half) and the second half.
template <class T, class A>
Two<Batch<T, A>> interleave(Batch<T, A> even, Batch<T, A> odd) {
    return lanes_detail::interleave<A>(even, odd, A{});
}

/// Batch<double, A>::size values from p, as doubles.
template <class A>
Batch<double, A> load_as_double(const float* p) {
    return lanes_detail::load_widened<A>(p, A{});
}
template <class A>
Batch<double, A> load_as_double(const double* p) {
    return Batch<double, A>::load_unaligned(p);
}

/// Batch<std::uint32_t, A>::size 16-bit values from p, each in the low half of a 32-bit lane.
template <class A>
Batch<std::uint32_t, A> load_zero_extended(const std::uint16_t* p) {
    return lanes_detail::load_zero_extended<A>(p, A{});
}

/// Stores the low 16 bits of each lane of v at p (the inverse of load_zero_extended).
template <class A>
void store_low_halves(std::uint16_t* p, Batch<std::uint32_t, A> v) {
    lanes_detail::store_low_halves<A>(p, v, A{});
}

/// Transposes the square matrix of L = Batch<float, A>::size rows in place: rows[i] lane j becomes
/// rows[j] lane i. Lanes move as bits (NaN payloads too). Each round interleaves row i with row
/// i + L/2, which rotates the bits of an element's index (row * L + lane) left by one; log2(L)
/// rounds rotate the row bits into the lane bits. Always inlined: called out of line, the rows
/// go through memory between the rounds, which doubled the time of the 16-bit channel-block
/// transpositions (ops/channel_blocks_simd.hpp).
template <class A>
[[gnu::always_inline]] inline void transpose_square(Batch<float, A>* rows) {
    constexpr std::size_t L = Batch<float, A>::size;
    for (std::size_t round = 1; round < L; round *= 2) {
        Batch<float, A> next[L];
        for (std::size_t i = 0; i < L / 2; ++i) {
            const auto two = interleave<float, A>(rows[i], rows[i + L / 2]);
            next[2 * i] = two.first;
            next[2 * i + 1] = two.second;
        }
        for (std::size_t i = 0; i < L; ++i) rows[i] = next[i];
    }
}

/// Runs block(x) for x = 0, L, 2L, ... over a row of n elements, L = Batch<T, A>::size; a partial
/// last block overlaps the one before it (recomputing writes the same values). Needs n >= L.
template <class T, class A, class Block>
void over_row(std::int64_t n, Block&& block) {
    constexpr auto L = static_cast<std::int64_t>(Batch<T, A>::size);
    std::int64_t x = 0;
    for (; x + L <= n; x += L) block(x);
    if (x < n) block(n - L);
}

/// y[i] = f(x[i]) for i in [0, n) a register at a time; the last partial register goes through a
/// zero-padded buffer, so every element sees the same code (no scalar tail with other rounding).
template <class A, class T, class F>
void map(const T* x, T* y, std::int64_t n, F&& f) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    std::int64_t i = 0;
    for (; i + L <= n; i += L) f(B::load_unaligned(x + i)).store_unaligned(y + i);
    if (i == n) return;
    alignas(A::alignment()) T buffer[L] = {};
    const auto rest = static_cast<std::size_t>(n - i);
    std::memcpy(buffer, x + i, rest * sizeof(T));
    f(B::load_aligned(buffer)).store_aligned(buffer);
    std::memcpy(y + i, buffer, rest * sizeof(T));
}

/// out[i] = f(a[i], b[i]) for i in [0, n), like map.
template <class A, class T, class F>
void map2(const T* a, const T* b, T* out, std::int64_t n, F&& f) {
    using B = Batch<T, A>;
    constexpr auto L = static_cast<std::int64_t>(B::size);
    std::int64_t i = 0;
    for (; i + L <= n; i += L) f(B::load_unaligned(a + i), B::load_unaligned(b + i)).store_unaligned(out + i);
    if (i == n) return;
    alignas(A::alignment()) T first[L] = {}, second[L] = {};
    const auto rest = static_cast<std::size_t>(n - i);
    std::memcpy(first, a + i, rest * sizeof(T));
    std::memcpy(second, b + i, rest * sizeof(T));
    f(B::load_aligned(first), B::load_aligned(second)).store_aligned(first);
    std::memcpy(out + i, first, rest * sizeof(T));
}

}  // namespace lazynn::simd
