#!/usr/bin/env bash
# sanitize.sh MODE: the fuzzing and sanitizer runs of CI (issue 7). Exits non-zero on any crash,
# leak, sanitizer report or test failure, and prints one summary line per stage with its time.
#
#   fuzz [SECONDS]  build the libFuzzer targets (clang 14, ASan+UBSan) in build-fuzz and run each
#                   for SECONDS (default 20) on a temp copy of its seed corpus fuzz/corpus/<name>/
#   asan            build everything with -DCL_SANITIZE=address (ASan+UBSan, -O1) in build-asan,
#                   run ctest (inside scripts/with-postgres.sh) and the e2e suite on SQLite
#   tsan            build the concurrency test binaries with -DCL_SANITIZE=thread (-O1) in
#                   build-tsan and run them (PostgreSQL halves included)
#   all             fuzz 20 + asan + tsan
#
# Overrides: CL_JOBS (2), CL_FUZZ_TARGETS="a_fuzzer b_fuzzer" (default: all), CL_SAN_CXX (the
# compiler of the asan/tsan builds; default the system c++), CL_KEEP_ARTIFACTS=1.
# Long fuzzing runs: see fuzz/README.md.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
repo_root="$(pwd)"
jobs="${CL_JOBS:-2}"
export CCACHE_BASEDIR="$repo_root"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

summary=()
failed=0
record() { # record STAGE RESULT DETAIL
  summary+=("$(printf '%-26s %-6s %s' "$1" "$2" "$3")")
  [[ "$2" == FAIL ]] && failed=1
  return 0
}
# shellcheck disable=SC2317  # called by the EXIT trap
print_summary() {
  echo
  echo "============== sanitize summary =============="
  for line in "${summary[@]}"; do echo "$line"; done
  echo "=============================================="
  if ((failed)); then echo "RESULT: FAILED"; else echo "RESULT: OK"; fi
}
trap print_summary EXIT
step() { echo; echo "==> $*"; }

# Sanitizer settings shared by the asan runs; reports also go to files so that a report from a
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

# --- fuzz ---------------------------------------------------------------------------------------
run_fuzz() { # run_fuzz SECONDS
  local seconds="${1:-20}"
  local build=build-fuzz
  step "fuzz: building libFuzzer targets ($build, clang 14)"
  local start=$SECONDS
  if ! CC=clang-14 CXX=clang++-14 cmake -S . -B "$build" -G Ninja -DCL_FUZZ=ON \
       -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" >/dev/null ||
     ! cmake --build "$build" --target fuzzers -j "$jobs"; then
    record "fuzz build" FAIL "cmake"
    return
  fi
  record "fuzz build" ok "$((SECONDS - start)) s"
  local logs="$build/fuzz-logs"
  mkdir -p "$logs"
  local targets="${CL_FUZZ_TARGETS:-}"
  if [[ -z "$targets" ]]; then
    targets=$(find "$build/fuzz" -maxdepth 1 -type f -name '*_fuzzer' -printf '%f\n' | sort)
  fi
  for t in $targets; do
    local name="${t%_fuzzer}"
    local bin="$build/fuzz/$t"
    local corpus work log
    corpus="fuzz/corpus/$name"
    work="$(mktemp -d "${TMPDIR:-/tmp}/cl-fuzz-$name.XXXXXX")"
    log="$logs/$name.log"
    # A temp copy: the run adds inputs to its corpus, and CI must not modify the tree.
    [[ -d "$corpus" ]] && cp -r "$corpus/." "$work/"
    local dict=()
    [[ -f "fuzz/$name.dict" ]] && dict=(-dict="fuzz/$name.dict")
    step "fuzz: $t for ${seconds}s"
    start=$SECONDS
    # detect_leaks and UBSan aborts are on by default in these builds; -error_exitcode makes a
    # finding exit non-zero; artifacts (crashing inputs) are kept in the log directory.
    ASAN_OPTIONS="detect_leaks=1:abort_on_error=0" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
      "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2560 -max_len=65536 \
        -print_final_stats=1 -artifact_prefix="$logs/$name-" "${dict[@]}" "$work" \
        >"$log" 2>&1
    local rc=$?
    local execs cov
    execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | grep -Eo '[0-9]+$')
    cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
    local rate="?"
    [[ -n "$execs" ]] && rate=$((execs / (seconds > 0 ? seconds : 1)))
    if ((rc != 0)); then
      grep -E 'ERROR|SUMMARY|invariant|runtime error|Test unit written' "$log" | head -20
      record "fuzz $name" FAIL "exit $rc; log $log"
    else
      record "fuzz $name" ok "${execs:-?} execs (~$rate/s), $cov, $((SECONDS - start)) s"
    fi
    [[ "${CL_KEEP_ARTIFACTS:-0}" == 1 ]] || rm -rf "$work"
  done
}

# --- asan ---------------------------------------------------------------------------------------
run_asan() {
  local build=build-asan
  local cxx=()
  [[ -n "${CL_SAN_CXX:-}" ]] && cxx=(-DCMAKE_CXX_COMPILER="$CL_SAN_CXX")
  step "asan: building the tests, server and CLI ($build, ASan+UBSan, -O1)"
  local start=$SECONDS
  if ! cmake -S . -B "$build" -G Ninja -DCL_SANITIZE=address -DCMAKE_BUILD_TYPE=RelWithDebInfo \
       -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" "${cxx[@]}" "${launcher[@]}" >/dev/null; then
    record "asan build" FAIL "cmake configure"
    return
  fi
  # Every executable except benchmarks: what ctest and the e2e suite run.
  local targets
  targets=$(ninja -C "$build" -t targets all | grep -E ': CXX_EXECUTABLE_LINKER' | cut -d: -f1 |
            grep -Ev '\[|^/|_bench$|_fuzzer$')
  # shellcheck disable=SC2086  # one target per word
  if ! cmake --build "$build" -j "$jobs" --target $targets; then
    record "asan build" FAIL "cmake"
    return
  fi
  record "asan build" ok "$((SECONDS - start)) s"
  local logs="$repo_root/$build/sanitize-logs"
  rm -rf "$logs"
  mkdir -p "$logs"

  step "asan: unit tests (ctest)"
  start=$SECONDS
  (
    san_env "$logs"
    bash scripts/with-postgres.sh ctest --test-dir "$build" -j "$jobs" --timeout 600 \
      --output-on-failure
  ) >"$logs/ctest.log" 2>&1
  local rc=$?
  local summary_line
  summary_line=$(grep -E 'tests passed' "$logs/ctest.log" | tail -1)
  if ((rc != 0)); then
    grep -E 'Failed|\*\*\*' "$logs/ctest.log" | head -30
    record "asan unit (ctest)" FAIL "${summary_line:-no summary}; log $logs/ctest.log"
  else
    record "asan unit (ctest)" ok "${summary_line} ($((SECONDS - start)) s)"
  fi
  check_reports "asan unit (ctest)" "$logs"

  step "asan: end-to-end (sqlite)"
  start=$SECONDS
  mkdir -p "$logs/e2e"
  local tap="$logs/e2e.tap"
  (
    san_env "$logs/e2e"
    CL_BUILD_DIR="$repo_root/$build" CL_E2E_DATABASE=sqlite CL_E2E_STRICT=1 \
      node --test --test-concurrency=1 --test-timeout=300000 --test-reporter=tap \
      --test-reporter-destination="$tap" tests/e2e/*.test.mjs
  ) >"$logs/e2e.log" 2>&1
  rc=$?
  local pass fail
  pass=$(grep -Eo '^# pass [0-9]+' "$tap" 2>/dev/null | grep -Eo '[0-9]+' | tail -1)
  fail=$(grep -Eo '^# fail [0-9]+' "$tap" 2>/dev/null | grep -Eo '[0-9]+' | tail -1)
  if ((rc != 0)) || [[ "${fail:-1}" != 0 ]]; then
    grep -E '^not ok' "$tap" | head -20
    record "asan e2e sqlite" FAIL "${pass:-?} passed, ${fail:-?} failed; log $logs/e2e.log"
  else
    record "asan e2e sqlite" ok "${pass} passed, 0 failed ($((SECONDS - start)) s)"
  fi
  check_reports "asan e2e sqlite" "$logs/e2e"
}

# --- tsan ---------------------------------------------------------------------------------------
# The binaries whose tests run threads: token cache + authenticator (domain_test), usage flusher
# + token revoker (jobs_test), JWKS cache (oidc_test), revocation listener
# (store_notifications_test), the HTTP server (http_test).
tsan_binaries=(domain/domain_test jobs/jobs_test oidc/oidc_test store/store_notifications_test
               http/http_test)
run_tsan() {
  local build=build-tsan
  local cxx=()
  [[ -n "${CL_SAN_CXX:-}" ]] && cxx=(-DCMAKE_CXX_COMPILER="$CL_SAN_CXX")
  local names=()
  for b in "${tsan_binaries[@]}"; do names+=("$(basename "$b")"); done
  step "tsan: building ${names[*]} ($build, -O1)"
  local start=$SECONDS
  if ! cmake -S . -B "$build" -G Ninja -DCL_SANITIZE=thread -DCMAKE_BUILD_TYPE=RelWithDebInfo \
       -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" "${cxx[@]}" "${launcher[@]}" >/dev/null ||
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
total=$SECONDS
case "$mode" in
  fuzz) run_fuzz "${2:-20}" ;;
  asan) run_asan ;;
  tsan) run_tsan ;;
  all)
    run_fuzz 20
    run_asan
    run_tsan
    ;;
  *)
    echo "usage: $0 fuzz [SECONDS] | asan | tsan | all" >&2
    trap - EXIT
    exit 2
    ;;
esac
record "total ($mode)" "" "$((SECONDS - total)) s"
exit "$failed"
