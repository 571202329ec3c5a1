#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang (ASan + UBSan) and runs each for a
# while: tools/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]   (default 20 s each, every target).
# FUZZ_RUNS=N stops each target after N executions instead (SECONDS_PER_TARGET still caps it);
# FUZZ_TIMEOUT=S (default 10) is the wall-clock limit for one input. FUZZ_BUILD_DIR=DIR uses a tree
# already configured with -DLAZYNN_FUZZ=ON (CI's sanitizer build) instead of configuring build/fuzz.
# Seeds come from the library itself (fuzz_make_seeds) plus the committed edge cases and
# reproducers; what a run learns is kept in $FUZZ_CORPUS/<target> (default build/fuzz/corpus), and
# a crash leaves its input as $FUZZ_ARTIFACTS/<target>/crash-* (default build/fuzz/artifacts;
# minimise it with -minimize_crash=1 and commit it under tests/fuzz/regressions/<target>/).
# See docs/fuzzing.md.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$LAZYNN_ROOT"
SECONDS_PER_TARGET="${1:-20}"
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(safetensors lazy_load checkpoint idx csv)
JOBS="${JOBS:-2}"

CLANGXX="${CLANGXX:-$(command -v clang++ || command -v clang++-14 || true)}"
if [ -z "$CLANGXX" ]; then
    echo "==> fuzz: clang++ is not installed (Debian: apt-get install clang libclang-rt-14-dev); skipping"
    exit 0
fi

FUZZ_DIR="${FUZZ_BUILD_DIR:-$PWD/build/fuzz}"
if [ -n "${FUZZ_BUILD_DIR:-}" ]; then
    if ! grep -q '^LAZYNN_FUZZ:BOOL=ON' "$FUZZ_DIR/CMakeCache.txt" 2>/dev/null; then
        echo "==> fuzz: FUZZ_BUILD_DIR=$FUZZ_DIR is not a tree configured with -DLAZYNN_FUZZ=ON" >&2
        exit 1
    fi
else
    echo "==> fuzz build ($CLANGXX, -fsanitize=fuzzer,address,undefined)"
    LAUNCHER=()
    if command -v ccache >/dev/null; then LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
    cmake -S . -B "$FUZZ_DIR" -DCMAKE_CXX_COMPILER="$CLANGXX" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAZYNN_FUZZ=ON \
          -DLAZYNN_WITH_MPI=OFF -DLAZYNN_BUILD_SAMPLES=OFF "${LAUNCHER[@]}" >/dev/null
fi
BUILD_TARGETS=(fuzz_make_seeds)
for t in "${TARGETS[@]}"; do BUILD_TARGETS+=("fuzz_$t"); done
cmake --build "$FUZZ_DIR" -j "$JOBS" --target "${BUILD_TARGETS[@]}"

rm -rf "$FUZZ_DIR/seeds"
"$FUZZ_DIR/tests/fuzz/fuzz_make_seeds" "$FUZZ_DIR/seeds" >/dev/null
# malloc_context_size: ASan records 5 frames per allocation instead of 30. Detection is the same;
# only a report's "allocated by" stack is shorter (replay the input with the default for the full
# one). Unwinding 30 frames on every malloc and free was a large share of each execution.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1:malloc_context_size=5}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# One thread, as libFuzzer expects of a target (and as ctest replays them): on a busy machine the
# pool's hand-offs to a second thread cost more than the small tensors' work. No info lines.
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" LAZYNN_LOG_LEVEL="${LAZYNN_LOG_LEVEL:-warn}"
FUZZ_CORPUS="${FUZZ_CORPUS:-$FUZZ_DIR/corpus}"
FUZZ_ARTIFACTS="${FUZZ_ARTIFACTS:-$FUZZ_DIR/artifacts}"
# libFuzzer's -timeout is wall-clock time: a run at nice 19 on a busy machine can be starved for
# longer than 10 s on an input that takes a millisecond, so long background runs raise it.
FUZZ_TIMEOUT="${FUZZ_TIMEOUT:-10}"
RUN_LIMIT=()
if [ -n "${FUZZ_RUNS:-}" ]; then RUN_LIMIT=(-runs="$FUZZ_RUNS"); fi

# The longest input each target mutates up to: a few times its largest seed, so mutations stay
# inside the format's interesting sizes (a 64 KiB checkpoint is mostly data bytes that only make
# each execution slower). Shapes are in the headers, so huge tensors are still claimed.
max_len() {
    case "$1" in
        checkpoint) echo 16384 ;;     # seeds ~9 KiB: two models, optimizer and scheduler state
        safetensors|lazy_load) echo 8192 ;;   # seeds up to 2.3 KiB
        *) echo 4096 ;;               # idx, csv: seeds under 100 bytes
    esac
}

failed=()
for t in "${TARGETS[@]}"; do
    corpus="$FUZZ_CORPUS/$t"
    artifacts="$FUZZ_ARTIFACTS/$t"
    mkdir -p "$corpus" "$artifacts"
    inputs=("$corpus" "$FUZZ_DIR/seeds/$t")
    for d in corpus regressions; do
        if [ -d "tests/fuzz/$d/$t" ]; then inputs+=("tests/fuzz/$d/$t"); fi
    done
    echo "==> fuzz_$t for ${SECONDS_PER_TARGET}s"
    # New inputs go to the first directory only, so the seeds and committed inputs stay as they are.
    if ! "$FUZZ_DIR/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" "${RUN_LIMIT[@]}" -max_len="$(max_len "$t")" \
            -rss_limit_mb=2048 -timeout="$FUZZ_TIMEOUT" -artifact_prefix="$artifacts/" -print_final_stats=1 "${inputs[@]}" \
            2>"$FUZZ_DIR/fuzz_$t.log"; then
        failed+=("$t")
        tail -60 "$FUZZ_DIR/fuzz_$t.log"
    else
        grep -E "^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::peak_rss_mb" "$FUZZ_DIR/fuzz_$t.log" | sed "s/^/    /" || true
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "==> fuzz: failures in ${failed[*]} (inputs in $FUZZ_ARTIFACTS/)"
    exit 1
fi
echo "==> fuzz: no crashes"
