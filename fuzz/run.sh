#!/bin/bash
# Runs every libFuzzer target in build-fuzz/fuzz for SECONDS each, two at a
# time, starting from the seed corpus in fuzz/corpus/<target> and keeping
# what the fuzzer learns in fuzz/work/<target> (ignored by git). Prints one
# line per target with its execution count; exits non-zero when any target
# found a crash, a leak or a sanitizer report (the reproducer is kept in
# fuzz/artifacts/).
#
#   fuzz/run.sh SECONDS [TARGET...]
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do
        t=$(basename "$f" .c)
        targets+=("${t#fuzz_}")
    done
fi

mkdir -p fuzz/work fuzz/artifacts
jobs=${FUZZ_JOBS:-2}

run_one() {
    local t=$1 bin=build-fuzz/fuzz/fuzz_$1
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: $bin is not built" >&2
        return 1
    fi
    mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
    local seeds=()
    [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
    local log=fuzz/work/$t.log
    if "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "fuzz/work/$t" "${seeds[@]}" >"$log" 2>&1; then
        local execs
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        echo "fuzz $t: ok, ${execs:-?} executions in ${seconds}s"
    else
        echo "fuzz $t: FAILED (see $log and fuzz/artifacts/$t/)" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 >&2 || true
        return 1
    fi
}

status=0
pids=()
names=()
for t in "${targets[@]}"; do
    run_one "$t" &
    pids+=($!)
    names+=("$t")
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
        names=("${names[@]:1}")
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || status=1
done
exit $status
