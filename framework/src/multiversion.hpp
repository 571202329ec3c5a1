#pragma once
// LAZYNN_MULTIVERSION marks a hot loop to be compiled twice, for the x86-64 baseline (SSE2) and
// for x86-64-v3 (AVX2 + FMA), with the dynamic loader picking the one the CPU runs (GCC's
// function multiversioning). A portable build thus still runs 8-wide float loops where the CPU
// has them. A -march=native build (LAZYNN_NATIVE) already targets the build machine: one version.
// Only the marked function is cloned; what it calls without inlining runs the baseline version.

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(LAZYNN_NATIVE_ARCH)
#define LAZYNN_MULTIVERSION __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define LAZYNN_MULTIVERSION
#endif

// LAZYNN_KERNEL_INLINE marks a helper of a multiversioned kernel. It is always inlined, so it is
// compiled into each clone with that clone's instruction set (a separate call would run the
// baseline version), and no vector argument ever crosses a call.
#define LAZYNN_KERNEL_INLINE inline __attribute__((always_inline))
