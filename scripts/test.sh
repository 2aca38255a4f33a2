#!/usr/bin/env bash
# Builds everything and runs every test: the OpenAPI lint (no build needed), unit tests (ctest,
# including the PostgreSQL store tests that scripts/with-postgres.sh provides), a smoke run of
# every benchmark (scripts/bench-smoke.sh: each once, briefly, no numbers asserted), the
# end-to-end suite in tests/e2e on PostgreSQL and on SQLite, the check of every response those
# suites recorded against docs/openapi.yaml, the browser tests of the web UI, then the sanitizer
# and fuzzing runs of scripts/sanitize.sh. Prints a summary (every stage with its counts and
# time, SKIPPED when it did not run); exits non-zero if anything failed.
#
# The e2e suite on SQLite runs once: against the ASan+UBSan server and CLI when the "asan" mode
# runs (the default), otherwise against the plain build.
#
# Every tree is configured from CMakePresets.json (this one: preset "default", with CL_BENCH=ON so
# that the benchmarks are built and the smoke stage can run them). The Node suites are also
# registered in ctest (labels e2e, browser): the unit stage leaves them out and they run below.
#
# Overrides: CL_BUILD_DIR (default build), CL_JOBS (2), CL_SKIP_INSTALL=1 (no install-deps),
#            CL_E2E_ONLY=1 (skip ctest), CL_E2E_FILTER=REGEX (node --test-name-pattern; also
#            skips the sanitizer runs), CL_SANITIZERS=MODES (default "asan tsan": ASan+UBSan unit
#            + e2e + fuzz smoke, and TSan; "none" skips; any of asan, fuzz, tsan, all; see
#            scripts/sanitize.sh), CL_FUZZ_SECONDS (seconds per fuzz target, default 15),
#            CL_BENCH_SMOKE=0 (skip the benchmark smoke; CL_E2E_ONLY and CL_E2E_FILTER do too).
set -uo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
build_dir="${CL_BUILD_DIR:-build}"
logs="$build_dir/test-logs"
summary_logs="$logs"

if [[ "${CL_SKIP_INSTALL:-0}" != 1 ]]; then
  step "installing dependencies"
  if ! bash scripts/install-deps.sh --test; then record deps FAIL "scripts/install-deps.sh"; exit 1; fi
fi

# --- the OpenAPI contract: lint and the checker's own tests (no build needed) -----------------
mkdir -p "$logs"
step "OpenAPI lint (redocly) and response checker tests"
start=$SECONDS
if (cd tests && npm run --silent lint:openapi && node --test openapi/) >"$logs/openapi-lint.log" 2>&1
then
  record "openapi lint" ok "$((SECONDS - start)) s"
else
  grep -v '║\|╔\|╚' "$logs/openapi-lint.log" | tail -40
  record "openapi lint" FAIL "log $logs/openapi-lint.log"
fi

step "configuring and building ($build_dir, -j$jobs)"
start=$SECONDS
if ! configure default "$build_dir" -DCL_BENCH=ON || ! cmake --build "$build_dir" -j "$jobs"; then
  record build FAIL "cmake"
  exit 1
fi
record build ok "$((SECONDS - start)) s"
mkdir -p "$logs"

# --- unit tests ------------------------------------------------------------------------------
if [[ "${CL_E2E_ONLY:-0}" != 1 ]]; then
  step "unit tests (ctest)"
  start=$SECONDS
  # Inside with-postgres.sh so that the PostgreSQL halves of the store suites run, not skip.
  pg=()
  [[ -f scripts/with-postgres.sh ]] && pg=(bash scripts/with-postgres.sh)
  "${pg[@]}" ctest --test-dir "$build_dir" "${unit_labels[@]}" -j "$jobs" --timeout 300 \
    --output-on-failure 2>&1 | tee "$logs/ctest.log"
  record_ctest "unit (ctest)" "$logs/ctest.log" "${PIPESTATUS[0]}" "$start"
else
  record "unit (ctest)" SKIPPED "CL_E2E_ONLY=1"
fi

# --- every benchmark once, briefly (scripts/bench-smoke.sh): proves they work, asserts no number --
if [[ -n "${CL_E2E_FILTER:-}" || "${CL_E2E_ONLY:-0}" == 1 || "${CL_BENCH_SMOKE:-1}" == 0 ]]; then
  reason="CL_BENCH_SMOKE=0"
  [[ "${CL_E2E_ONLY:-0}" == 1 ]] && reason="CL_E2E_ONLY=1"
  [[ -n "${CL_E2E_FILTER:-}" ]] && reason="CL_E2E_FILTER set"
  record "bench smoke" SKIPPED "$reason"
else
  step "benchmark smoke (scripts/bench-smoke.sh)"
  start=$SECONDS
  CL_BUILD_DIR="$build_dir" bash scripts/bench-smoke.sh 2>&1 | tee "$logs/bench-smoke.log"
  rc=${PIPESTATUS[0]}
  summary_line="$(grep -E '^[0-9]+ benchmarks, [0-9]+ failed' "$logs/bench-smoke.log" | tail -1)"
  if ((rc == 0)); then
    record "bench smoke" ok "${summary_line:-?}"
  else
    record "bench smoke" FAIL "${summary_line:-exit $rc}; log $logs/bench-smoke.log"
    while IFS= read -r line; do
      note "$line"
    done < <(grep -E '^[A-Za-z0-9_]+ +FAILED' "$logs/bench-smoke.log" | sort -u)
  fi
fi

# --- end-to-end ------------------------------------------------------------------------------
e2e_files=(tests/e2e/*.test.mjs)

# The build above produced every binary: a missing prerequisite is a failure, not a skip.
export CL_E2E_STRICT="${CL_E2E_STRICT:-1}"

# Every response the suites get from the control plane is recorded under
# $logs/responses-NAME/ and checked against docs/openapi.yaml after the e2e stages.
response_dirs=()
run_e2e() { # run_e2e NAME [wrapper...] ; env already set by caller
  local name="$1"; shift
  local tap="$logs/e2e-$name.tap"
  local responses="$repo_root/$logs/responses-$name"
  step "end-to-end ($name)"
  local start=$SECONDS
  set_node_test "$tap" 180000
  rm -rf "$responses"
  response_dirs+=("$responses")
  CL_BUILD_DIR="$repo_root/$build_dir" CL_E2E_RECORD_DIR="$responses" "$@" "${node_test[@]}" \
    "${e2e_filter[@]}" "${e2e_files[@]}" 2>&1 | tee "$logs/e2e-$name.log"
  record_tap "e2e $name" "$tap" "${PIPESTATUS[0]}" "$start"
}

sanitizers="${CL_SANITIZERS:-asan tsan}"
[[ -n "${CL_E2E_FILTER:-}" ]] && sanitizers=none
asan_e2e=0
for mode in $sanitizers; do [[ "$mode" == asan || "$mode" == all ]] && asan_e2e=1; done

if [[ -f scripts/with-postgres.sh ]]; then
  run_e2e postgres bash scripts/with-postgres.sh env CL_E2E_DATABASE=postgres
else
  record "e2e postgres" SKIPPED "scripts/with-postgres.sh not present"
fi

# On SQLite once: under ASan+UBSan below when that runs, here otherwise.
if ((asan_e2e)); then
  record "e2e sqlite" SKIPPED "runs under ASan+UBSan instead: 'asan e2e sqlite' below"
else
  run_e2e sqlite env CL_E2E_DATABASE=sqlite
fi

# --- responses of the e2e stages against docs/openapi.yaml ------------------------------------
if ((${#response_dirs[@]})); then
  step "OpenAPI: recorded responses against docs/openapi.yaml"
  start=$SECONDS
  # Every listed (operation, status) pair must be seen, or be an allow-listed unprovokable one,
  # when every suite ran.
  coverage=(--require-coverage)
  [[ -n "${CL_E2E_FILTER:-}" ]] && coverage=()
  node tests/openapi/validate_responses.mjs "${coverage[@]}" "${response_dirs[@]}" 2>&1 |
    tee "$logs/openapi-responses.log"
  if ((PIPESTATUS[0] == 0)); then
    record "openapi responses" ok "$((SECONDS - start)) s"
  else
    record "openapi responses" FAIL "log $logs/openapi-responses.log"
  fi
  note "$(grep -m1 '^operations seen' "$logs/openapi-responses.log")"
else
  record "openapi responses" SKIPPED "no e2e stage ran here"
fi

# --- browser tests of the web UI (Debian's chromium + playwright-core) --------------------------
step "browser tests (web UI)"
start=$SECONDS
web_tap="$repo_root/$logs/web.tap"
set_node_test "$web_tap" 300000
(cd tests/web && CL_BUILD_DIR="$repo_root/$build_dir" "${node_test[@]}" .) 2>&1 |
  tee "$logs/web.log"
record_tap "web ui (chromium)" "$web_tap" "${PIPESTATUS[0]}" "$start"

# --- sanitizers and fuzzing (scripts/sanitize.sh) ---------------------------------------------
# By default "asan tsan": one clang tree with ASan+UBSan+coverage runs the unit tests, the e2e
# suite on SQLite and a fuzz smoke of every libFuzzer target; a TSan tree runs the concurrent parts.
if [[ "$sanitizers" == none ]]; then
  reason="CL_SANITIZERS=none"
  [[ -n "${CL_E2E_FILTER:-}" ]] && reason="CL_E2E_FILTER set"
  record "sanitizers" SKIPPED "$reason"
else
  for mode in $sanitizers; do
    step "sanitizers: scripts/sanitize.sh $mode"
    start=$SECONDS
    bash scripts/sanitize.sh "$mode" 2>&1 | tee "$logs/sanitize-$mode.log"
    rc=${PIPESTATUS[0]}
    # Its own summary lines, indented under ours.
    while IFS= read -r line; do
      note "$line"
    done < <(sed -n '/=== sanitize summary ===/,/^RESULT/p' "$logs/sanitize-$mode.log" |
             grep -v '^=\|^RESULT')
    if ((rc != 0)); then
      record "sanitize.sh $mode" FAIL "($((SECONDS - start)) s)"
    else
      record "sanitize.sh $mode" ok "($((SECONDS - start)) s)"
    fi
  done
fi
record "total" "" "$SECONDS s"

exit "$failed"
