#!/usr/bin/env bash
# A multi-host launch with localhost standing in for the hosts: a hostfile, the TCP transport
# (what ranks on different machines use; shared memory is switched off), and the environment
# forwarded with -x, as docs/distributed.md describes for real clusters. Then the test suite runs
# the same way on 3 ranks.
set -uo pipefail
probe="$1"
suite="$2"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "localhost slots=3" >"$dir/hosts"   # on a cluster: one line per host, e.g. "node1 slots=1"
tcp=(--mca btl self,tcp --mca btl_tcp_if_include lo)
export LAZYNN_LAUNCH_TOKEN="token-$$"

output=$(timeout 120 mpirun --hostfile "$dir/hosts" -np 3 "${tcp[@]}" -x LAZYNN_LAUNCH_TOKEN -x OPENBLAS_NUM_THREADS=1 \
         "$probe" 2>&1)
status=$?
echo "$output"
if [ "$status" -ne 0 ]; then echo "FAIL: the launch failed with status $status"; exit 1; fi
for r in 0 1 2; do
    if ! grep -qE "^rank $r of 3 on .*token $LAZYNN_LAUNCH_TOKEN, OPENBLAS_NUM_THREADS 1, sum 6, same weights yes" <<<"$output"; then
        echo "FAIL: rank $r did not report the forwarded environment, the sum and equal weights"; exit 1
    fi
done

timeout 240 mpirun --hostfile "$dir/hosts" -np 3 "${tcp[@]}" -x OPENBLAS_NUM_THREADS=1 -x LAZYNN_LOG_LEVEL=warn "$suite"
status=$?
if [ "$status" -ne 0 ]; then echo "FAIL: the test suite on 3 ranks over TCP failed with status $status"; exit 1; fi
echo "OK: hostfile launch over TCP"
