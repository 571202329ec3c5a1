#!/usr/bin/env bash
# Expects the probe's job to fail within the timeout (not hang), naming the rank and the error.
set -uo pipefail
probe="$1"
output=$(timeout 60 mpirun -np 2 --oversubscribe "$probe" 2>&1)
status=$?
echo "$output"
if [ "$status" -eq 124 ]; then echo "FAIL: the job hung until the timeout"; exit 1; fi
if [ "$status" -eq 0 ]; then echo "FAIL: the job succeeded although rank 1 threw"; exit 1; fi
if ! grep -q "rank 1 aborting the job: uncaught exception: deliberate failure on rank 1" <<<"$output"; then
    echo "FAIL: the error message does not name the rank and the exception"; exit 1
fi
echo "OK: the job stopped with status $status"
