#!/usr/bin/env bash
# long_run.sh: a long libFuzzer run of one target, measured in CPU time rather than wall time,
# so that it can run at low priority beside other work and still fuzz for the full budget.
#
#   fuzz/long_run.sh TARGET [CPU_SECONDS] [BUILD_DIR]
#     TARGET       e.g. jws (the binary is BUILD_DIR/fuzz/TARGET_fuzzer)
#     CPU_SECONDS  CPU time to spend on TARGET in total, over all runs (default 3600)
#     BUILD_DIR    a -DCL_FUZZ=ON build (default build-fuzz; see fuzz/README.md)
#
# The work corpus lives in ${CL_FUZZ_WORK:-/tmp/cl-fuzz-work}/TARGET (seeded from
# fuzz/corpus/TARGET, kept across runs); crash/leak/timeout inputs are written there too.
# The CPU used so far is kept in that directory (cpu_total), so an interrupted run resumes
# where it stopped: the fuzzer is stopped with SIGINT once the total reaches CPU_SECONDS (or
# after 6x the remainder in wall time). Prints one result line: target, CPU seconds of this run
# and in total, wall seconds, executions, coverage, corpus size, peak RSS, findings. Exit
# status: 0 when there was no finding.
#
# Do not pause the fuzzer (SIGSTOP) during a run: its per-input timeout (-timeout=25) counts
# wall time, and a pause shows up as a false "timeout" finding. Stop it (SIGINT) and rerun.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
target="${1:?usage: fuzz/long_run.sh TARGET [CPU_SECONDS] [BUILD_DIR]}"
budget="${2:-3600}"
build="${3:-build-fuzz}"
bin="$build/fuzz/${target}_fuzzer"
[[ -x "$bin" ]] || { echo "no fuzzer binary $bin (build it: see fuzz/README.md)" >&2; exit 2; }

work="${CL_FUZZ_WORK:-/tmp/cl-fuzz-work}/$target"
mkdir -p "$work/corpus" "$work/artifacts"
done_before=$(cat "$work/cpu_total" 2>/dev/null || echo 0)
remaining=$((budget - done_before))
if ((remaining <= 0)); then
  echo "${target}_fuzzer: already fuzzed ${done_before} s of CPU (budget ${budget} s)"
  exit 0
fi
cp -n "fuzz/corpus/$target/"* "$work/corpus/" 2>/dev/null || true
dict=()
[[ -f "fuzz/$target.dict" ]] && dict=(-dict="fuzz/$target.dict")
log="$work/run-$(date -u +%Y%m%dT%H%M%SZ).log"

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export LSAN_OPTIONS="suppressions=$(pwd)/fuzz/lsan.supp:print_suppressions=0"

"$bin" -max_total_time=$((remaining * 6)) -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/" "${dict[@]}" "$work/corpus" \
  >"$log" 2>&1 &
pid=$!
ticks=$(getconf CLK_TCK)
start=$SECONDS
cpu=0
while kill -0 "$pid" 2>/dev/null; do
  # utime + stime of the fuzzer (fields 14 and 15 of /proc/PID/stat), in seconds.
  if stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
    read -r -a f <<<"${stat##*) }"
    cpu=$(((f[11] + f[12]) / ticks))
  fi
  if ((cpu >= remaining)); then
    kill -INT "$pid" 2>/dev/null
    break
  fi
  sleep 5
done
wait "$pid"
rc=$?
wall=$((SECONDS - start))
total=$((done_before + cpu))
echo "$total" >"$work/cpu_total"

last=$(grep -E '^#[0-9]+' "$log" | tail -1)
execs=$(grep -Eo '^stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$')
[[ -z "$execs" ]] && execs=$(grep -Eo '^#[0-9]+' <<<"$last" | tr -d '#')
cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' <<<"$last")
corp=$(grep -Eo 'corp: [0-9]+/[0-9]+[a-zA-Z]*' <<<"$last")
rss=$(grep -Eo '^stat::peak_rss_mb: [0-9]+' "$log" | grep -Eo '[0-9]+$')
[[ -z "$rss" ]] && rss=$(grep -Eo 'rss: [0-9]+Mb' <<<"$last" | grep -Eo '[0-9]+')
findings=$(find "$work/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
           -o -name 'oom-*' \) | wc -l)
# libFuzzer exits 0 at max_total_time and with 72 (interrupted) when stopped above.
status=ok
if ((findings > 0)) || { ((rc != 0)) && ((rc != 72)) && ((rc != 130)); }; then status=FINDING; fi
printf '%s_fuzzer %s: cpu %d s (total %d s), wall %d s, %s execs, %s, %s, peak rss %s MB, %d findings (exit %d; log %s)\n' \
  "$target" "$status" "$cpu" "$total" "$wall" "${execs:-?}" "${cov:-cov ?}" "${corp:-corp ?}" \
  "${rss:-?}" "$findings" "$rc" "$log"
[[ "$status" == ok ]]
