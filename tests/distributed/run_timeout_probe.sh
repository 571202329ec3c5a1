#!/usr/bin/env bash
# Runs the timeout probe's scenarios: each job must end (not hang) with a failure status, and every
# rank must report a DistributedError naming the collective and the ranks that did not arrive.
set -uo pipefail
probe="$1"
failures=0

run() {  # scenario [ranks] -> $output, $status
    output=$(timeout 60 mpirun -np "${2:-2}" --oversubscribe "$probe" "$1" 2>&1)
    status=$?
    echo "=== $1 on ${2:-2} ranks (status $status)"
    echo "$output"
    if [ "$status" -eq 124 ]; then echo "FAIL: $1 hung until the timeout"; failures=$((failures + 1)); fi
    if [ "$status" -eq 0 ]; then echo "FAIL: $1 succeeded although a collective could not complete"; failures=$((failures + 1)); fi
}

expect() {  # description, fixed string
    if ! grep -qF -- "$2" <<<"$output"; then echo "FAIL: $1: missing '$2'"; failures=$((failures + 1)); fi
}

expect_line() {  # description, extended regular expression
    if ! grep -qE -- "$2" <<<"$output"; then echo "FAIL: $1: no line matches '$2'"; failures=$((failures + 1)); fi
}

run early-return
expect "rank 0 names its collective" "rank 0 caught: DistributedDataParallel gradient all-reduce (bucket 1 of 1)"
expect "rank 0 names the missing rank" "rank 1 did not arrive: rank 1 is in finalize"
expect "rank 1 names its collective" "rank 1 aborting the job: finalize"
expect "rank 1 names the missing rank" "rank 0 did not arrive: rank 0 is in DistributedDataParallel gradient all-reduce"

run busy
expect "rank 0 times out" "rank 0 caught: all_reduce"
expect "rank 0 gives the timeout" "timed out after 2."
expect "rank 0 names the missing rank" "rank 1 did not arrive: rank 1 did not answer"
expect "rank 1 learns that rank 0 gave up" "rank 1 caught: all_reduce"
expect "rank 1 names who gave up" "on rank 1 cannot complete: rank 0 gave up"

run busy 3  # ranks 0 and 1 arrive, rank 2 does not: only rank 2 is named
# Whichever of ranks 0 and 1 times out first, the other gives up with it: both name rank 2 alone.
expect_line "rank 0 names only the missing rank" "^rank 0 caught: all_reduce .*; rank 2 did not arrive: rank 2 did not answer"
expect_line "rank 1 names only the missing rank" "^rank 1 caught: all_reduce .*; rank 2 did not arrive: rank 2 did not answer"
expect "rank 2 learns that both gave up" "rank 2 caught: all_reduce"
if grep -qF "rank 1 did not arrive" <<<"$output"; then echo "FAIL: rank 1 arrived but was named"; failures=$((failures + 1)); fi

if [ "$failures" -ne 0 ]; then exit 1; fi
echo "OK: every scenario ended with each rank naming the collective and the missing ranks"
