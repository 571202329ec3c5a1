# Project-wide compile settings applied to every lazynn target through lazynn_configure_target().
add_library(lazynn_build_flags INTERFACE)
# GCC 12 at -O3 reports -Wrestrict / -Wstringop-overflow inside libstdc++'s own string and vector
# code on valid programs (GCC bugs 105329, 105651); those two are off so -Werror stays meaningful.
# -fno-math-errno: no kernel reads errno, and without it std::sqrt/std::exp loops cannot vectorise.
# -fno-trapping-math: no kernel reads floating-point exception flags, and without it loops with
# conditional arithmetic (x < 0 ? a : b - c) keep their branches and cannot vectorise.
target_compile_options(lazynn_build_flags INTERFACE -fno-math-errno -fno-trapping-math -Wall -Wextra -Wpedantic
  # GCC only: clang has no -Wshadow=local (its -Wshadow also flags locals shadowing members and globals).
  $<$<CXX_COMPILER_ID:GNU>:-Wshadow=local>
  $<$<CXX_COMPILER_ID:GNU>:-Wno-restrict -Wno-stringop-overflow>
  # GCC's generic tuning splits unaligned 32-byte loads and stores in two; every AVX2 CPU since
  # Haswell does them whole, and the AVX2 SIMD kernels (framework/src/simd) move short unaligned rows.
  $<$<CXX_COMPILER_ID:GNU>:-mno-avx256-split-unaligned-load -mno-avx256-split-unaligned-store>
  $<$<BOOL:${LAZYNN_WERROR}>:-Werror>
  $<$<CONFIG:Release>:-O3>
  $<$<BOOL:${LAZYNN_NATIVE}>:-march=native>)
target_compile_definitions(lazynn_build_flags INTERFACE $<$<BOOL:${LAZYNN_NATIVE}>:LAZYNN_NATIVE_ARCH>)
# LAZYNN_SANITIZER is what the build got: "address" (ASan + UBSan), "thread" (TSan) or empty.
string(TOLOWER "${LAZYNN_SANITIZE}" lazynn_sanitize_choice)
if(lazynn_sanitize_choice MATCHES "^(on|yes|true|1|address)$")
  set(LAZYNN_SANITIZER address)
elseif(lazynn_sanitize_choice STREQUAL "thread")
  set(LAZYNN_SANITIZER thread)
elseif(lazynn_sanitize_choice MATCHES "^(off|no|false|0|)$")
  set(LAZYNN_SANITIZER "")
else()
  message(FATAL_ERROR "LAZYNN_SANITIZE=${LAZYNN_SANITIZE}: expected OFF, address or thread")
endif()

if(LAZYNN_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LAZYNN_FUZZ needs clang (libFuzzer): configure with -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(LAZYNN_SANITIZER STREQUAL "thread")
    message(FATAL_ERROR "LAZYNN_FUZZ runs under ASan + UBSan; it cannot be combined with LAZYNN_SANITIZE=thread")
  endif()
  set(LAZYNN_SANITIZER address)
  # Everything gets libFuzzer's coverage instrumentation; only the harnesses link its main
  # (-fsanitize=fuzzer, tests/fuzz/CMakeLists.txt). The same build runs the test suites under
  # ASan + UBSan, so CI compiles the library once for both (tools/test.sh).
  target_compile_options(lazynn_build_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()

if(LAZYNN_SANITIZER STREQUAL "address")
  target_compile_options(lazynn_build_flags INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer
    -fno-sanitize-recover=undefined)
  target_link_options(lazynn_build_flags INTERFACE -fsanitize=address,undefined)
elseif(LAZYNN_SANITIZER STREQUAL "thread")
  target_compile_options(lazynn_build_flags INTERFACE -fsanitize=thread -fno-omit-frame-pointer)
  target_link_options(lazynn_build_flags INTERFACE -fsanitize=thread)
endif()

function(lazynn_configure_target target)
  target_link_libraries(${target} PRIVATE $<BUILD_INTERFACE:lazynn_build_flags>)
endfunction()
