#!/usr/bin/env bash
# A sample trainer run as a user runs it: Ctrl-C (SIGINT) in the middle of training stops after the
# step with a checkpoint and exit code 130, --resume continues with the whole history in
# metrics.csv and steps.csv, exactly (the same losses as a run that was never interrupted), a
# resume of a finished run leaves the outputs alone, stale temporary files go, and bad flags are
# refused.
#
#   run_sample_interrupt.sh FASHION_MNIST_MLP REGRESSION
set -euo pipefail
mlp="$1"
regression="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# Tiny Fashion-MNIST-shaped IDX files (big-endian headers, plain bytes): 512 training and 128 test
# images of noise with labels 0-9.
be32() { printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)))"; }
write_idx() {   # PREFIX COUNT
    local prefix="$1" n="$2" i
    { be32 $((0x801)); be32 "$n"; for ((i = 0; i < n; ++i)); do printf "\\x0$((i * 7 % 10))"; done; } \
        >"$work/data/$prefix-labels-idx1-ubyte"
    { be32 $((0x803)); be32 "$n"; be32 28; be32 28; head -c $((n * 784)) /dev/urandom; } \
        >"$work/data/$prefix-images-idx3-ubyte"
}
mkdir -p "$work/data"
write_idx train 512
write_idx t10k 128

common=(--data "$work/data" --batch-size 16 --threads 1 --seed 3)

# 1. Interrupt a long run after its first epoch.
out="$work/interrupted"
"$mlp" "${common[@]}" --epochs 500 --out "$out" >"$work/run1.out" 2>"$work/run1.err" &
pid=$!
for _ in $(seq 1 600); do
    [ "$(wc -l 2>/dev/null <"$out/metrics.csv" || echo 0)" -ge 2 ] && break
    sleep 0.1
done
kill -INT "$pid"
set +e
wait "$pid"
code=$?
set -e
[ "$code" -eq 130 ] || { cat "$work/run1.err"; fail "interrupted run exited $code, expected 130"; }
grep -q "resume with:" "$work/run1.err" || fail "no resume command printed"
grep -q -- "--resume" "$work/run1.err" || fail "the printed command lacks --resume"
[ -f "$out/checkpoint.safetensors" ] || fail "no checkpoint after Ctrl-C"
stopped=$(sed -n 's/^stopped at epoch \([0-9]*\), step \([0-9]*\)\/32.*/\1 \2/p' "$work/run1.err")
[ -n "$stopped" ] || { cat "$work/run1.err"; fail "no 'stopped at epoch E, step S/32' line"; }
read -r epoch step <<<"$stopped"
echo "interrupted at epoch $epoch, step $step"
[ "$(wc -l <"$out/metrics.csv")" -eq "$epoch" ] || fail "metrics.csv should hold epochs 1..$((epoch - 1))"
[ "$(wc -l <"$out/steps.csv")" -eq $(( (epoch - 1) * 32 + step + 1 )) ] || fail "steps.csv misses steps before the stop"

# 2. A stale temporary file from a killed save (a pid that is not running) goes at the next start.
( exit 0 ) & dead=$!; wait "$dead"
touch "$out/checkpoint.safetensors.tmp-$dead-0"

# 3. Resume to two epochs past the interrupted one.
target=$((epoch + 2))
"$mlp" "${common[@]}" --epochs "$target" --out "$out" --resume >"$work/run2.out" 2>"$work/run2.err" \
    || { cat "$work/run2.err"; fail "resume failed"; }
[ ! -e "$out/checkpoint.safetensors.tmp-$dead-0" ] || fail "stale temporary file left in place"
[ "$(cut -d, -f1 "$out/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq -s ' ' 1 "$target") " ] \
    || { cat "$out/metrics.csv"; fail "metrics.csv does not hold epochs 1..$target"; }
[ "$(wc -l <"$out/steps.csv")" -eq $((target * 32 + 1)) ] || fail "steps.csv does not hold every step"

# 4. Exact resume from the middle of an epoch: stop after step 45 (epoch 2, step 13; the test hook
#    LAZYNN_SAMPLE_STOP_AFTER acts as a Ctrl-C there), resume, and compare with a run that was
#    never interrupted: the same losses and accuracies (seconds differ) and the same per-step losses.
exact="$work/exact"
set +e
LAZYNN_SAMPLE_STOP_AFTER=45 "$mlp" "${common[@]}" --epochs 3 --out "$exact" >/dev/null 2>"$work/run3.err"
code=$?
set -e
[ "$code" -eq 130 ] || { cat "$work/run3.err"; fail "stop at step 45 exited $code"; }
grep -q "stopped at epoch 2, step 13/32" "$work/run3.err" || { cat "$work/run3.err"; fail "not stopped at epoch 2, step 13"; }
"$mlp" "${common[@]}" --epochs 3 --out "$exact" --resume >/dev/null 2>"$work/run3.err" \
    || { cat "$work/run3.err"; fail "mid-epoch resume failed"; }
"$mlp" "${common[@]}" --epochs 3 --out "$work/straight" >/dev/null 2>"$work/run3.err" \
    || { cat "$work/run3.err"; fail "uninterrupted run failed"; }
diff <(cut -d, -f1-4 "$exact/metrics.csv") <(cut -d, -f1-4 "$work/straight/metrics.csv") \
    || fail "resumed run differs from the uninterrupted one"
diff "$exact/steps.csv" "$work/straight/steps.csv" || fail "per-step losses differ after resume"

# The regression sample too (stop at epoch 21, step 5; it keeps its ReduceLROnPlateau counters
# in the checkpoint, tested in test_sample_support).
set +e
LAZYNN_SAMPLE_STOP_AFTER=645 "$regression" --epochs 40 --out "$work/reg_exact" >/dev/null 2>"$work/run3.err"
code=$?
set -e
[ "$code" -eq 130 ] || { cat "$work/run3.err"; fail "regression stop at step 645 exited $code"; }
"$regression" --epochs 40 --out "$work/reg_exact" --resume >/dev/null 2>&1 || fail "regression resume failed"
"$regression" --epochs 40 --out "$work/reg_straight" >/dev/null 2>&1 || fail "regression run failed"
diff <(cut -d, -f1-4 "$work/reg_exact/metrics.csv") <(cut -d, -f1-4 "$work/reg_straight/metrics.csv") \
    || fail "resumed regression differs from the uninterrupted one"

# 5. Resuming a finished run changes nothing.
before=$(md5sum "$out"/metrics.csv "$out"/steps.csv "$out"/checkpoint.safetensors "$out"/curves.png 2>/dev/null)
"$mlp" "${common[@]}" --epochs "$target" --out "$out" --resume >"$work/run4.out" 2>&1 || fail "finished resume failed"
grep -q "nothing to train" "$work/run4.out" || { cat "$work/run4.out"; fail "finished resume did not say so"; }
grep -qi "install gnuplot" "$work/run4.out" && fail "finished resume claims gnuplot is missing"
[ "$(md5sum "$out"/metrics.csv "$out"/steps.csv "$out"/checkpoint.safetensors "$out"/curves.png 2>/dev/null)" = "$before" ] \
    || fail "finished resume changed the outputs"

# 6. Bad values and unused flags are refused before anything runs, naming the flag.
for args in "--batch-size -5" "--epochs 0" "--epochs -1" "--lr 0" "--threads 0"; do
    set +e
    # shellcheck disable=SC2086
    message=$("$regression" $args --out "$work/refused" 2>&1)
    code=$?
    set -e
    [ "$code" -ne 0 ] || fail "regression $args was accepted"
    grep -q -- "${args%% *}" <<<"$message" || fail "regression $args: message does not name the flag: $message"
done
[ ! -e "$work/refused" ] || fail "a refused command created its output directory"
set +e
message=$("$regression" --data /tmp 2>&1); code=$?
set -e
[ "$code" -ne 0 ] && grep -q -- "--data" <<<"$message" || fail "regression accepted --data, which it does not use"
set +e
message=$("$mlp" --data /etc/hostname 2>&1); code=$?
set -e
[ "$code" -ne 0 ] && grep -qi "directory" <<<"$message" || fail "fashion_mnist_mlp --data FILE: $message"
echo "sample interrupt/resume checks passed"
