#!/bin/bash
# The fuzzing campaign: every libFuzzer target of $FUZZ_BUILD/fuzz for
# SECONDS each, then AFL++ (afl-fuzz on the same harnesses built with
# afl-clang-fast in $FUZZ_AFL_BUILD) on each target of $FUZZ_AFL_TARGETS for
# SECONDS each, two runs at a time ($FUZZ_JOBS), all starting from the seed
# corpus in fuzz/corpus/<target> and keeping what they learn in fuzz/work/
# (ignored by git). Prints one line per run: executions, coverage
# (libFuzzer's cov and ft, AFL's edges found and bitmap share), corpus
# size and crashes; writes the same lines to fuzz/work/summary.txt. Exits
# non-zero when any run found a crash, a leak, a hang or a sanitizer report
# (the reproducer is kept in fuzz/artifacts/<target>/ or
# fuzz/artifacts/afl-<target>/).
#
#   fuzz/run.sh SECONDS [TARGET...]
#   FUZZ_AFL_TARGETS="" fuzz/run.sh 10      libFuzzer only (make fuzz-smoke)
set -euo pipefail

cd "$(dirname "$0")/.."
seconds=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
build=${FUZZ_BUILD:-build-fuzz}
afl_build=${FUZZ_AFL_BUILD:-build-fuzz-afl}
read -r -a afl_targets <<<"${FUZZ_AFL_TARGETS-rtsp pcap}"
jobs=${FUZZ_JOBS:-2}
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in fuzz/fuzz_*.c; do
        grep -q '^int LLVMFuzzerTestOneInput' "$f" || continue # shared code, not a target
        t=$(basename "$f" .c)
        targets+=("${t#fuzz_}")
    done
fi

mkdir -p fuzz/work fuzz/artifacts
rm -f fuzz/work/*.line

# libFuzzer: the figures come from -print_final_stats and the last status line.
run_libfuzzer() {
    local t=$1 bin=$build/fuzz/fuzz_$1
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: $bin is not built" >&2
        return 1
    fi
    mkdir -p "fuzz/work/$t" "fuzz/artifacts/$t"
    local seeds=()
    [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
    local log=fuzz/work/$t.log rc=0
    "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="fuzz/artifacts/$t/" \
        "fuzz/work/$t" "${seeds[@]}" >"$log" 2>&1 || rc=$?
    local execs status cov ft corp crashes
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    status=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$status")
    corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$status")
    crashes=$(find "fuzz/artifacts/$t" -type f | wc -l)
    printf 'fuzz %-9s libFuzzer: %s executions in %s s, cov %s ft %s, corpus %s inputs, %s crashes\n' \
        "$t" "${execs:-?}" "$seconds" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes" | tee "fuzz/work/$t.line"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        echo "fuzz $t: FAILED (see $log and fuzz/artifacts/$t/)" >&2
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20 >&2 || true
        return 1
    fi
}

# AFL++ on the libFuzzer harness (afl-clang-fast links its own driver for
# -fsanitize=fuzzer). The environment skips the checks of system settings
# (core_pattern, CPU frequency scaling, a free core) instead of changing them.
run_afl() {
    local t=$1 bin=$afl_build/fuzz/fuzz_$1 out=fuzz/work/afl-$1
    if [ ! -x "$bin" ]; then
        echo "fuzz $t: $bin is not built (AFL++)" >&2
        return 1
    fi
    mkdir -p "$out" "fuzz/artifacts/afl-$t"
    local log=fuzz/work/afl-$t.log rc=0
    AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_AFFINITY=1 \
        AFL_NO_UI=1 AFL_AUTORESUME=1 AFL_SKIP_CRASHES=1 \
        ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0 \
        afl-fuzz -V "$seconds" -m none -t 10000 -i "fuzz/corpus/$t" -o "$out" -- "$bin" \
        >"$log" 2>&1 || rc=$?
    local stats=$out/default/fuzzer_stats
    if [ ! -f "$stats" ]; then
        echo "fuzz $t: AFL++ did not start (see $log)" >&2
        tail -20 "$log" >&2
        return 1
    fi
    field() { sed -n "s/^$1 *: *//p" "$stats"; }
    local crashes hangs
    find "$out/default/crashes" "$out/default/hangs" -type f -name 'id:*' \
        -exec cp {} "fuzz/artifacts/afl-$t/" \; 2>/dev/null || true
    crashes=$(find "$out/default/crashes" -type f -name 'id:*' | wc -l)
    hangs=$(find "$out/default/hangs" -type f -name 'id:*' | wc -l)
    printf 'fuzz %-9s AFL++:     %s executions in %s s, edges %s (bitmap %s), corpus %s inputs, %s crashes, %s hangs\n' \
        "$t" "$(field execs_done)" "$seconds" "$(field edges_found)" "$(field bitmap_cvg)" \
        "$(field corpus_count)" "$crashes" "$hangs" | tee "fuzz/work/afl-$t.line"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ] || [ "$hangs" -ne 0 ]; then
        echo "fuzz $t: AFL++ FAILED (see $log and $out/default/)" >&2
        return 1
    fi
}

runs=()
for t in "${targets[@]}"; do runs+=("libfuzzer $t"); done
for t in "${afl_targets[@]}"; do runs+=("afl $t"); done

status=0
pids=()
for r in "${runs[@]}"; do
    read -r kind t <<<"$r"
    if [ "$kind" = afl ]; then run_afl "$t" & else run_libfuzzer "$t" & fi
    pids+=($!)
    if [ ${#pids[@]} -ge "$jobs" ]; then
        wait "${pids[0]}" || status=1
        pids=("${pids[@]:1}")
    fi
done
for p in "${pids[@]}"; do
    wait "$p" || status=1
done

{
    echo "# fuzz/run.sh $seconds s per run, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -n), $(nproc) CPUs, $jobs at a time"
    for r in "${runs[@]}"; do
        read -r kind t <<<"$r"
        line=fuzz/work/$t.line
        [ "$kind" = afl ] && line=fuzz/work/afl-$t.line
        cat "$line" 2>/dev/null || echo "fuzz $t ($kind): no figures (it did not run)"
    done
} >fuzz/work/summary.txt
echo "figures: fuzz/work/summary.txt"
exit $status
