#!/usr/bin/env bash
# Installs what is missing, then: a GCC release build with warnings as errors and every test (again
# with OpenBLAS on its generic kernels); one clang build with ASan + UBSan and libFuzzer coverage
# that runs every test and a fuzz smoke run, then clang-tidy over the library's sources; a clang ThreadSanitizer build of the threaded suites;
# and an outside project built against the installed package. Each configuration compiles the
# library once.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2086
install_missing $LAZYNN_BUILD_PACKAGES
cd "$LAZYNN_ROOT"
JOBS="${JOBS:-2}"
CLANGXX="$(command -v clang++ || command -v clang++-14)"
stage() { echo "==> $* ($(date -u +%H:%M:%S))"; }

stage "format: every C++ file as .clang-format says (clang-format --dry-run --Werror)"
git ls-files -z '*.cpp' '*.hpp' '*.h' ':!tests/fixtures/*' | xargs -0 clang-format --dry-run --Werror

stage "release build (GCC, -Wall -Wextra -Werror)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=Release -DLAZYNN_WERROR=ON -DCMAKE_INSTALL_PREFIX="$PWD/build/ci-install" >/dev/null
cmake --build build/ci -j "$JOBS"
(cd build/ci && ctest -j "$JOBS" --output-on-failure)

stage "core suites again with OpenBLAS forced to its generic kernels (OPENBLAS_CORETYPE=Prescott)"
# Results must not depend on which kernels OpenBLAS picks for this CPU (float32 runs on oneDNN).
(cd build/ci && OPENBLAS_CORETYPE=Prescott ctest -j "$JOBS" --output-on-failure \
    -R '^(test_tensor_ops|test_tensor_basics|test_autograd|test_layers|test_conv|test_normalization|test_pooling|test_rnn|test_attention|test_embedding|test_dropout|test_container|test_losses|test_optim|test_compute_backend|test_training)$')

stage "find_package(lazynn) from an outside project"
rm -rf build/ci-install build/consumer
cmake --install build/ci >/dev/null
cmake -S tests/consumer -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/ci-install" >/dev/null
cmake --build build/consumer -j "$JOBS"
LD_LIBRARY_PATH="$PWD/build/ci-install/lib" ./build/consumer/consumer
LD_LIBRARY_PATH="$PWD/build/ci-install/lib" ./build/consumer/consumer_distributed

# -O1 with line tables only: sanitizer reports still name file and line, and both builds compile
# in a fraction of RelWithDebInfo's time.
SANITIZER_FLAGS=(-DCMAKE_CXX_COMPILER="$CLANGXX" -DCMAKE_BUILD_TYPE=None "-DCMAKE_CXX_FLAGS=-O1 -gline-tables-only"
                 -DLAZYNN_WERROR=ON)

stage "clang build with ASan + UBSan and libFuzzer coverage (-Werror): every test, then a fuzz smoke run"
# Samples included: the trainers' Ctrl-C and resume path runs under ASan too (a Ctrl-C once aborted
# a release run in glibc's heap check: oneDNN's heap stack, docs/design.md decision 18).
cmake -S . -B build/asan "${SANITIZER_FLAGS[@]}" -DLAZYNN_FUZZ=ON -DLAZYNN_BUILD_SAMPLES=ON >/dev/null
cmake --build build/asan -j "$JOBS"
# The layer suite runs once here, on this CPU's kernels: its forced-SSE2 and forced-AVX2 reruns cost
# about four CPU-minutes under ASan and add no layer code (test_simd_sse2/_avx2 cover those kernels here).
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -j "$JOBS" --output-on-failure \
    -E '^test_layers_(sse2|avx2)$')
stage "fuzz smoke run (libFuzzer, ${FUZZ_SECONDS:-10}s per target)"
FUZZ_BUILD_DIR="$PWD/build/asan" "$LAZYNN_ROOT/tools/fuzz.sh" "${FUZZ_SECONDS:-10}"

stage "clang-tidy: the checks of .clang-tidy over the library's sources, findings are errors"
# On the ASan tree's compile commands (clang's flags; the GCC tree's flags are not all clang's).
# run-clang-tidy exits non-zero when a file has a finding.
run-clang-tidy -quiet -j "$JOBS" -p build/asan "(framework|modules|distributed)/src/" >build/clang-tidy.log 2>&1 ||
    { grep -E "error:|warning:" build/clang-tidy.log | sort -u; echo "clang-tidy found the above"; exit 1; }

stage "clang build with ThreadSanitizer: the thread pool, DataLoader prefetch, model building and training suites"
# Not test_distributed: lazynn's data-parallel code starts no threads of its own, and OpenMPI's
# uninstrumented transports (mca_btl_tcp, mca_pml_ob1) raise lock-order and unlock reports of their own
# under TSan. It runs in the release and ASan stages.
TSAN_SUITES=(test_threads test_data test_module_seeds test_training)
cmake -S . -B build/tsan "${SANITIZER_FLAGS[@]}" -DLAZYNN_SANITIZE=thread -DLAZYNN_BUILD_SAMPLES=OFF >/dev/null
cmake --build build/tsan -j "$JOBS" --target "${TSAN_SUITES[@]}"
(cd build/tsan && TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$LAZYNN_ROOT/tests/tsan.supp" \
    ctest -j "$JOBS" --output-on-failure -R "^($(IFS='|'; echo "${TSAN_SUITES[*]}"))\$")
stage "all checks passed"
