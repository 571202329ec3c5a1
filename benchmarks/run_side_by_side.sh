#!/usr/bin/env bash
# Runs the end-to-end workloads in lazynn and in PyTorch in the same session and prints a table of
# medians and ratios (lazynn / PyTorch; below 1 means lazynn is faster).
# Usage: benchmarks/run_side_by_side.sh [threads]   (needs python3-torch and libbenchmark-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}"
cmake -S . -B build/bench -DCMAKE_BUILD_TYPE=Release -DLAZYNN_BUILD_TESTS=OFF -DLAZYNN_BUILD_SAMPLES=OFF -DLAZYNN_BUILD_BENCHMARKS=ON >/dev/null
cmake --build build/bench -j 2 --target lazynn_workloads lazynn_micro >/dev/null
unset OPENBLAS_NUM_THREADS
ours="$(./build/bench/benchmarks/lazynn_workloads "$threads")"
theirs="$(/usr/bin/python3 benchmarks/torch_workloads.py "$threads")"
printf "%-24s %12s %12s %8s\n" workload "lazynn ms" "PyTorch ms" ratio
join <(echo "$ours" | sort) <(echo "$theirs" | sort) | while read -r name a b; do
    printf "%-24s %12.4f %12.4f %8.2f\n" "$name" "$a" "$b" "$(echo "$a / $b" | bc -l)"
done
