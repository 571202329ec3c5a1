#!/usr/bin/env bash
# Runs the end-to-end workloads in lazynn, in PyTorch's C++ frontend (libtorch-dev) and in PyTorch
# from Python (python3-torch), interleaved in the same session, and prints the medians and ratios
# (lazynn / libtorch and lazynn / PyTorch; below 1 means lazynn is faster).
#
# Each program reports the median step time of each workload; the script runs each program
# ROUNDS times (interleaved, so a noisy minute hits all of them) and keeps each workload's best
# median, which is the fairest number for frameworks whose thread pools make runs vary.
#
# Usage: benchmarks/run_side_by_side.sh [threads] [rounds]
#   needs libbenchmark-dev; libtorch-dev and python3-torch are used when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
rounds="${2:-3}"
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DLAZYNN_BUILD_TESTS=OFF -DLAZYNN_BUILD_SAMPLES=OFF -DLAZYNN_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build/bench -j 2 --target lazynn_workloads lazynn_micro lazynn_gemm_reference >/dev/null
have_libtorch=0
if [ -f /usr/lib/x86_64-linux-gnu/cmake/Torch/TorchConfig.cmake ]; then
    cmake -S benchmarks/libtorch -B build/libtorch -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build/libtorch -j 2 >/dev/null
    have_libtorch=1
fi
have_python=0
if /usr/bin/python3 -c "import torch" 2>/dev/null; then have_python=1; fi
unset OPENBLAS_NUM_THREADS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# OpenBLAS's best core type on this CPU, for the GEMM reference rate.
if grep -qw avx512f /proc/cpuinfo; then best_core=SkylakeX; elif grep -qw avx2 /proc/cpuinfo; then best_core=Haswell; else best_core=""; fi
for round in $(seq "$rounds"); do
    ./build/bench/benchmarks/lazynn_workloads "$threads" >>"$work/lazynn"
    ./build/bench/benchmarks/lazynn_gemm_reference "$threads" >>"$work/reference"
    [ -n "$best_core" ] && OPENBLAS_CORETYPE="$best_core" ./build/bench/benchmarks/lazynn_gemm_reference "$threads" | grep openblas >>"$work/reference"
    [ "$have_libtorch" = 1 ] && ./build/libtorch/libtorch_workloads "$threads" >>"$work/libtorch"
    [ "$have_python" = 1 ] && [ "$round" = 1 ] && /usr/bin/python3 benchmarks/torch_workloads.py "$threads" >>"$work/python"
done
best() { [ -f "$1" ] && sort -k1,1 -k2,2g "$1" | awk '!seen[$1]++' || true; }
best "$work/lazynn" >"$work/lazynn.best"
best "$work/libtorch" >"$work/libtorch.best"
best "$work/python" >"$work/python.best"
best "$work/reference" >"$work/reference.best"
echo "threads=$threads rounds=$rounds OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset} $(date -u +%Y-%m-%dT%H:%MZ)"
printf "%-24s %10s %10s %10s %10s %10s\n" workload lazynn libtorch ratio PyTorch ratio
while read -r name ours; do
    lt="$(awk -v n="$name" '$1 == n {print $2}' "$work/libtorch.best")"
    py="$(awk -v n="$name" '$1 == n {print $2}' "$work/python.best")"
    ratio() { [ -n "$1" ] && echo "$ours / $1" | bc -l | xargs printf "%.2f" || echo "-"; }
    printf "%-24s %10.4f %10s %10s %10s %10s\n" "$name" "$ours" "${lt:--}" "$(ratio "$lt")" "${py:--}" "$(ratio "$py")"
done <"$work/lazynn.best"
echo
echo "GEMM references for mlp1024_inference_b512 (the same three GEMMs, each library's own threads):"
ours="$(awk '$1 == "mlp1024_inference_b512" {print $2}' "$work/lazynn.best")"
while read -r name ms; do
    printf "%-44s %10.4f ms   lazynn reaches %5.1f %% of its rate\n" "$name" "$ms" "$(echo "100 * $ms / $ours" | bc -l)"
done <"$work/reference.best"
echo "backend: $(./build/bench/benchmarks/lazynn_workloads --backend 2>/dev/null || true)"
