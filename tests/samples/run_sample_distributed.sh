#!/usr/bin/env bash
# The regression and char_rnn samples under `mpirun -np 2 ... --distributed`: they train
# data-parallel (each rank a shard: half the steps per epoch), and only rank 0 prints and writes.
#
#   run_sample_distributed.sh MPIRUN REGRESSION CHAR_RNN
set -euo pipefail
mpirun="$1"
regression="$2"
char_rnn="$3"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export LAZYNN_LOG_LEVEL=info   # the "data-parallel training on N processes" line

# regression: 2048 examples, batch 64 -> 32 steps per epoch alone, 16 per rank with two ranks.
"$mpirun" -np 2 --oversubscribe "$regression" --distributed --epochs 3 --out "$work/regression" \
    >"$work/regression.log" 2>&1 || { cat "$work/regression.log"; fail "regression --distributed failed"; }
grep -q "data-parallel training on 2 processes" "$work/regression.log" || fail "regression did not run data-parallel"
[ "$(grep -c "^recovered:" "$work/regression.log")" -eq 1 ] || { cat "$work/regression.log"; fail "not only rank 0 printed"; }
[ "$(wc -l <"$work/regression/metrics.csv")" -eq 4 ] || fail "metrics.csv should hold 3 epochs"
[ "$(wc -l <"$work/regression/steps.csv")" -eq $((3 * 16 + 1)) ] || fail "each rank should take 16 steps per epoch"

# char_rnn on a small text: 9/10 of 6,600 characters in windows of 65 -> 91 windows, batch 8 ->
# 12 steps alone, 6 per rank.
for i in $(seq 1 100); do echo "line $i of a small text for the character model, long enough."; done >"$work/text.txt"
"$mpirun" -np 2 --oversubscribe "$char_rnn" --distributed --epochs 1 --batch-size 8 --data "$work/text.txt" \
    --out "$work/char_rnn" >"$work/char_rnn.log" 2>&1 || { cat "$work/char_rnn.log"; fail "char_rnn --distributed failed"; }
grep -q "data-parallel training on 2 processes" "$work/char_rnn.log" || fail "char_rnn did not run data-parallel"
[ "$(grep -c -- "--- sample ---" "$work/char_rnn.log")" -eq 1 ] || { cat "$work/char_rnn.log"; fail "not only rank 0 sampled"; }
steps=$(($(wc -l <"$work/char_rnn/steps.csv") - 1))
[ "$steps" -ge 1 ] && [ "$steps" -le 6 ] || fail "char_rnn rank 0 took $steps steps, expected its shard (at most 6)"
echo "distributed sample checks passed"
