#!/usr/bin/env bash
# sanitize.sh MODE: the sanitizer and fuzzing runs of CI. Exits non-zero on any crash,
# leak, sanitizer report, fuzz finding or test failure, and prints one summary line per stage
# with its counts and time.
#
#   asan [SECONDS]  ONE clang-14 tree (preset asan-fuzz of CMakePresets.json: -DCL_FUZZ=ON,
#                   ASan + UBSan + libFuzzer coverage, -O1) in build-asan-fuzz holds the tests,
#                   the server, the CLI and the fuzz targets;
#                   runs ctest (inside scripts/with-postgres.sh), the e2e suite on SQLite against
#                   its server and CLI, then the fuzz smoke: each libFuzzer target for SECONDS
#                   (default 15) on a temp copy of its seed corpus fuzz/corpus/<name>/
#   fuzz [SECONDS]  only the fuzz smoke (builds just the fuzz targets in the same tree)
#   tsan            build the concurrency test binaries with preset tsan (-DCL_SANITIZE=thread,
#                   -O1) in build-tsan and run them (PostgreSQL halves included)
#   all             asan + tsan
#
# Overrides: CL_JOBS (2; also how many fuzz targets run at once), CL_FUZZ_SECONDS (default
# seconds per target), CL_FUZZ_TARGETS="a_fuzzer b_fuzzer" (default: all), CL_KEEP_ARTIFACTS=1,
# CL_ASAN_BUILD_DIR (build-asan-fuzz), CL_TSAN_BUILD_DIR (build-tsan), CL_TSAN_CXX (compiler of
# the tsan build; default the system c++). Long fuzzing runs: see fuzz/README.md.
set -uo pipefail

summary_title="sanitize summary"
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
asan_build="${CL_ASAN_BUILD_DIR:-build-asan-fuzz}"
tsan_build="${CL_TSAN_BUILD_DIR:-build-tsan}"
export CCACHE_BASEDIR="$repo_root"

# Sanitizer settings of the asan test runs; reports also go to files so that a report from a
# server process the tests do not watch (e.g. a leak at exit) still fails the run.
san_env() { # san_env LOGDIR
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:log_path=$1/asan"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$1/ubsan"
  export LSAN_OPTIONS="suppressions=$repo_root/fuzz/lsan.supp:print_suppressions=0"
}
# Fails STAGE when sanitizer report files exist in LOGDIR, and prints them.
check_reports() { # check_reports STAGE LOGDIR
  local files
  files=$(find "$2" -maxdepth 1 -type f \( -name 'asan.*' -o -name 'ubsan.*' -o -name 'tsan.*' \) \
          -size +0 2>/dev/null)
  if [[ -n "$files" ]]; then
    echo "sanitizer reports in $2:"
    for f in $files; do echo "--- $f"; head -60 "$f"; done
    record "$1" FAIL "$(echo "$files" | wc -l) sanitizer report file(s) in $2"
    return 1
  fi
  return 0
}

# --- the ASan + UBSan + coverage tree (clang 14) -------------------------------------------------
# Preset asan-fuzz: -O1 -gline-tables-only gives stack traces with lines without the compile and
# link cost of full -g; no NDEBUG, so assertions are on in the tests and the fuzz targets.
asan_configure() {
  configure asan-fuzz "$asan_build" >/dev/null
}
asan_build_targets() { # asan_build_targets STAGE TARGET...
  local stage="$1"; shift
  step "$stage: building $# targets ($asan_build, clang 14, ASan+UBSan+coverage, -O1)"
  local start=$SECONDS
  # shellcheck disable=SC2068  # one target per word
  if ! cmake --build "$asan_build" -j "$jobs" --target $@; then
    record "$stage build" FAIL "cmake --build"
    return 1
  fi
  record "$stage build" ok "$# targets ($((SECONDS - start)) s)"
}

# --- fuzz smoke ----------------------------------------------------------------------------------
fuzz_one() { # fuzz_one TARGET SECONDS LOGDIR: runs in the background, leaves LOGDIR/NAME.rc
  local t="$1" seconds="$2" logs="$3"
  local name="${t%_fuzzer}"
  local work
  work="$(mktemp -d "${TMPDIR:-/tmp}/cl-fuzz-$name.XXXXXX")"
  # A temp copy: the run adds inputs to its corpus, and CI must not modify the tree.
  [[ -d "fuzz/corpus/$name" ]] && cp -r "fuzz/corpus/$name/." "$work/"
  local dict=()
  [[ -f "fuzz/$name.dict" ]] && dict=(-dict="fuzz/$name.dict")
  # Leaks and UBSan findings abort these builds; any finding (crash, leak, timeout, OOM) makes
  # libFuzzer exit non-zero and write the input as an artifact in the log directory.
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" \
  UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  LSAN_OPTIONS="suppressions=$repo_root/fuzz/lsan.supp:print_suppressions=0" \
    "$asan_build/fuzz/$t" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 \
      -max_len=65536 -print_final_stats=1 -artifact_prefix="$logs/$name-" "${dict[@]}" "$work" \
      >"$logs/$name.log" 2>&1
  echo $? >"$logs/$name.rc"
  [[ "${CL_KEEP_ARTIFACTS:-0}" == 1 ]] || rm -rf "$work"
}
run_fuzz() { # run_fuzz SECONDS [built]: builds (unless "built") and runs every fuzz target
  local seconds="$1"
  local all targets
  all=$(ninja -C "$asan_build" -t targets all | grep -E '^fuzz/[a-z_]+_fuzzer: CXX_EXECUTABLE' |
        cut -d: -f1 | sed 's|^fuzz/||' | sort)
  targets="${CL_FUZZ_TARGETS:-$all}"
  if [[ -z "$targets" ]]; then
    record "fuzz" FAIL "no fuzz targets in $asan_build"
    return
  fi
  local paths=()
  for t in $targets; do paths+=("fuzz/$t"); done
  if [[ "${2:-}" != built ]]; then asan_build_targets "fuzz" "${paths[@]}" || return; fi
  local logs="$repo_root/$asan_build/fuzz-logs"
  rm -rf "$logs"
  mkdir -p "$logs"
  step "fuzz smoke: $(wc -w <<<"$targets") targets, ${seconds}s each, $jobs at a time"
  local start=$SECONDS running=0
  for t in $targets; do
    if ((running >= jobs)); then wait -n; ((running--)); fi
    echo "fuzz: $t"
    fuzz_one "$t" "$seconds" "$logs" &
    ((running++))
  done
  wait
  for t in $targets; do
    local name="${t%_fuzzer}"
    local log="$logs/$name.log" rc execs cov
    rc=$(cat "$logs/$name.rc" 2>/dev/null || echo '?')
    execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$')
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    if [[ "$rc" != 0 ]]; then
      echo "--- fuzz $name: exit $rc"
      grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -20
      record "fuzz $name" FAIL "exit $rc; log $log"
    else
      record "fuzz $name" ok "${execs:-?} execs (~$((${execs:-0} / seconds))/s), $cov"
    fi
  done
  record "fuzz smoke" "" "$((SECONDS - start)) s"
}

# --- asan: unit tests, e2e on SQLite, fuzz smoke ---------------------------------------------------
run_asan() { # run_asan FUZZ_SECONDS
  step "asan: configuring $asan_build"
  if ! asan_configure; then
    record "asan build" FAIL "cmake configure"
    return
  fi
  # Every executable except benchmarks: the test binaries, server, CLI and fuzz targets.
  local targets
  targets=$(ninja -C "$asan_build" -t targets all | grep -E ': CXX_EXECUTABLE_LINKER' |
            cut -d: -f1 | grep -Ev '\[|^/|_bench$')
  # shellcheck disable=SC2086  # one target per word
  asan_build_targets "asan" $targets || return
  local logs="$repo_root/$asan_build/sanitize-logs"
  rm -rf "$logs"
  mkdir -p "$logs"

  step "asan: unit tests (ctest)"
  local start=$SECONDS
  (
    san_env "$logs"
    bash scripts/with-postgres.sh ctest --test-dir "$asan_build" "${unit_labels[@]}" -j "$jobs" \
      --timeout 600 --output-on-failure
  ) >"$logs/ctest.log" 2>&1
  record_ctest "asan unit (ctest)" "$logs/ctest.log" $? "$start"
  check_reports "asan unit (ctest)" "$logs"

  step "asan: end-to-end (sqlite)"
  start=$SECONDS
  mkdir -p "$logs/e2e"
  local tap="$logs/e2e.tap"
  set_node_test "$tap" 300000
  (
    san_env "$logs/e2e"
    CL_BUILD_DIR="$repo_root/$asan_build" CL_E2E_DATABASE=sqlite CL_E2E_STRICT=1 \
      "${node_test[@]}" "${e2e_filter[@]}" tests/e2e/*.test.mjs
  ) >"$logs/e2e.log" 2>&1
  record_tap "asan e2e sqlite" "$tap" $? "$start" "$logs/e2e.log"
  check_reports "asan e2e sqlite" "$logs/e2e"

  run_fuzz "$1" built
}

# --- tsan ----------------------------------------------------------------------------------------
# The binaries whose tests run threads: token cache + authenticator (authenticator_test), usage
# flusher + token revoker (jobs_test), JWKS cache (oidc_test), revocation listener
# (store_notifications_test), the HTTP server (http_test), failed-auth throttle and rate limiter
# (auth_failure_throttle_test, rate_limiter_test), usage coalescing (usage_recorder_test), CI
# issuer discovery and its fetch gate (oidc_ci_test), the login IdP gate (idp_gate_test).
# A name that is no longer a target fails the build step below at once.
tsan_binaries=(domain/authenticator_test jobs/jobs_test oidc/oidc_test
               store/store_notifications_test http/http_test domain/auth_failure_throttle_test
               domain/rate_limiter_test domain/usage_recorder_test oidc/oidc_ci_test
               domain/idp_gate_test)
run_tsan() {
  local build="$tsan_build"
  local cxx=()
  [[ -n "${CL_TSAN_CXX:-}" ]] && cxx=(-DCMAKE_CXX_COMPILER="$CL_TSAN_CXX")
  local names=()
  for b in "${tsan_binaries[@]}"; do names+=("$(basename "$b")"); done
  step "tsan: building ${names[*]} ($build, -O1)"
  local start=$SECONDS
  if ! configure tsan "$build" "${cxx[@]}" >/dev/null ||
     ! cmake --build "$build" --target "${names[@]}" -j "$jobs"; then
    record "tsan build" FAIL "cmake"
    return
  fi
  record "tsan build" ok "$((SECONDS - start)) s"
  local logs="$repo_root/$build/sanitize-logs"
  rm -rf "$logs"
  mkdir -p "$logs"
  for b in "${tsan_binaries[@]}"; do
    local name
    name=$(basename "$b")
    step "tsan: $name"
    start=$SECONDS
    TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:log_path=$logs/tsan" \
      bash scripts/with-postgres.sh "$build/$b" >"$logs/$name.log" 2>&1
    local rc=$?
    local passed
    passed=$(grep -Eo '\[  PASSED  \] [0-9]+ tests?' "$logs/$name.log" | grep -Eo '[0-9]+')
    if ((rc != 0)); then
      grep -E '\[  FAILED  \]|WARNING: ThreadSanitizer' "$logs/$name.log" | head -20
      record "tsan $name" FAIL "exit $rc; log $logs/$name.log"
    else
      record "tsan $name" ok "${passed:-?} tests ($((SECONDS - start)) s)"
    fi
  done
  check_reports "tsan" "$logs"
}

mode="${1:-}"
fuzz_seconds="${2:-${CL_FUZZ_SECONDS:-15}}"
if ! [[ "$fuzz_seconds" =~ ^[1-9][0-9]*$ ]]; then
  echo "sanitize.sh: fuzz seconds must be a positive integer, got '$fuzz_seconds'" >&2
  trap - EXIT
  exit 2
fi
total=$SECONDS
case "$mode" in
  asan) run_asan "$fuzz_seconds" ;;
  fuzz)
    if asan_configure; then run_fuzz "$fuzz_seconds"; else record "fuzz build" FAIL "configure"; fi
    ;;
  tsan) run_tsan ;;
  all)
    run_asan "$fuzz_seconds"
    run_tsan
    ;;
  *)
    echo "usage: $0 asan [FUZZ_SECONDS] | fuzz [SECONDS] | tsan | all [FUZZ_SECONDS]" >&2
    trap - EXIT
    exit 2
    ;;
esac
record "total ($mode)" "" "$((SECONDS - total)) s"
exit "$failed"
