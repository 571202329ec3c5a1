#!/usr/bin/env bash
# Installs what is missing, builds with warnings as errors, runs every test, runs them again
# under ASan+UBSan, and builds an outside project against the installed package.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# shellcheck disable=SC2086
install_missing $LAZYNN_BUILD_PACKAGES
cd "$LAZYNN_ROOT"
JOBS="${JOBS:-2}"

echo "==> release build (-Wall -Wextra -Werror)"
cmake -S . -B build/ci -DCMAKE_BUILD_TYPE=Release -DLAZYNN_WERROR=ON -DCMAKE_INSTALL_PREFIX="$PWD/build/ci-install" >/dev/null
cmake --build build/ci -j "$JOBS"
(cd build/ci && ctest -j "$JOBS" --output-on-failure)

echo "==> core suites again with OpenBLAS forced to its generic kernels (OPENBLAS_CORETYPE=Prescott)"
# Results must not depend on which kernels OpenBLAS picks for this CPU (float32 runs on oneDNN).
(cd build/ci && OPENBLAS_CORETYPE=Prescott ctest -j "$JOBS" --output-on-failure \
    -R '^(test_tensor_ops|test_tensor_basics|test_autograd|test_layers|test_losses|test_optim|test_compute_backend|test_training)$')

echo "==> ASan + UBSan build"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAZYNN_WERROR=ON -DLAZYNN_SANITIZE=ON \
      -DLAZYNN_BUILD_SAMPLES=OFF >/dev/null
cmake --build build/asan -j "$JOBS"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest -j "$JOBS" --output-on-failure)

echo "==> fuzz smoke run (libFuzzer, ${FUZZ_SECONDS:-20}s per target; skipped without clang)"
"$LAZYNN_ROOT/tools/fuzz.sh" "${FUZZ_SECONDS:-20}"

echo "==> find_package(lazynn) from an outside project"
rm -rf build/ci-install build/consumer
cmake --install build/ci >/dev/null
cmake -S tests/consumer -B build/consumer -DCMAKE_PREFIX_PATH="$PWD/build/ci-install" >/dev/null
cmake --build build/consumer -j "$JOBS"
LD_LIBRARY_PATH="$PWD/build/ci-install/lib" ./build/consumer/consumer
LD_LIBRARY_PATH="$PWD/build/ci-install/lib" ./build/consumer/consumer_distributed
echo "==> all checks passed"
