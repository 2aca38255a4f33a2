# scripts/lib.sh: what scripts/test.sh and scripts/sanitize.sh share (sourced, never run).
# Moves to the repository root and provides the stage summary printed at exit (record, note),
# step headers, configuring a tree from a CMakePresets.json preset, and turning the output of a
# ctest or `node --test` run into one summary line with its counts and time.
#
# Before sourcing, a script may set summary_title (default "test summary") and summary_logs
# (a directory named on failure). Overrides read here: CL_JOBS (default 2), CL_E2E_FILTER.
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables set here are read by the scripts that source it

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
repo_root="$(pwd)"
jobs="${CL_JOBS:-2}"

# The unit stage of a tree: every ctest test except the Node suites (tests/CMakeLists.txt), which
# the scripts run themselves so that one PostgreSQL and one TAP file serve the whole suite.
unit_labels=(-LE 'e2e|browser')

# --- summary ------------------------------------------------------------------------------------
summary=()
failed=0
record() { # record STAGE RESULT DETAIL
  summary+=("$(printf '%-26s %-8s %s' "$1" "$2" "$3")")
  [[ "$2" == FAIL ]] && failed=1
  return 0
}
note() { # note TEXT: an indented line under the stage recorded last
  record "" "" "$1"
}
# shellcheck disable=SC2317  # called by the EXIT trap
print_summary() {
  echo
  echo "================ ${summary_title:-test summary} ================"
  for line in "${summary[@]}"; do echo "$line"; done
  echo "=============================================="
  if ((failed)); then
    echo "RESULT: FAILED${summary_logs:+ (logs in $summary_logs/)}"
  else
    echo "RESULT: OK"
  fi
}
trap print_summary EXIT

step() { echo; echo "==> $*"; }

# --- configuring --------------------------------------------------------------------------------
# configure PRESET DIR [CMAKE_ARGS...]: the flags of each tree live in CMakePresets.json; DIR
# overrides the preset's binaryDir (CL_BUILD_DIR and friends).
configure() {
  local preset="$1" dir="$2"
  shift 2
  cmake --preset "$preset" -B "$dir" "$@"
}

# --- ctest --------------------------------------------------------------------------------------
# record_ctest STAGE LOG RC START: one line from a ctest log (tests, failures, skips, time).
record_ctest() {
  local stage="$1" log="$2" rc="$3" start="$4"
  local total nfail nskip
  total=$(grep -Eo 'tests failed out of [0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -1)
  nfail=$(grep -Eo '[0-9]+ tests failed' "$log" | grep -Eo '^[0-9]+' | tail -1)
  nskip=$(grep -c '\*\*\*Skipped\|Not Run' "$log")
  if grep -q 'No tests were found' "$log"; then
    record "$stage" FAIL "no tests found"
  elif ((rc != 0)); then
    grep -E '^\s+[0-9]+ - .*(Failed|Timeout|Exception)' "$log" | head -30
    local took=$((SECONDS - start))
    record "$stage" FAIL "${nfail:-?} of ${total:-?} failed, $nskip skipped ($took s); log $log"
  else
    record "$stage" ok "${total:-0} passed/skipped, $nskip skipped ($((SECONDS - start)) s)"
  fi
}

# --- node --test --------------------------------------------------------------------------------
# set_node_test TAP TIMEOUT_MS: sets the array node_test to a `node --test` command line that prints
# the spec reporter and writes TAP to TAP (append the files or directory to run).
node_test=()
set_node_test() {
  node_test=(node --test --test-concurrency=1 --test-timeout="$2"
             --test-reporter=spec --test-reporter-destination=stdout
             --test-reporter=tap --test-reporter-destination="$1")
}
# The CL_E2E_FILTER of the e2e suites, as node arguments.
e2e_filter=()
[[ -n "${CL_E2E_FILTER:-}" ]] && e2e_filter=(--test-name-pattern="$CL_E2E_FILTER")

tap_count() { # tap_count FILE pass|fail|skipped
  grep -Eo "^# $2 [0-9]+" "$1" 2>/dev/null | grep -Eo '[0-9]+' | tail -1
}
# record_tap STAGE TAP RC START [LOG]: one line from a node --test TAP file, then one line per
# distinct skip reason, so that a skip is never silent. LOG is named when the stage failed.
record_tap() {
  local stage="$1" tap="$2" rc="$3" start="$4" log="${5:-}"
  local pass fail skip
  pass=$(tap_count "$tap" pass)
  fail=$(tap_count "$tap" fail)
  skip=$(tap_count "$tap" skipped)
  local detail="${pass:-?} passed, ${fail:-?} failed, ${skip:-?} skipped ($((SECONDS - start)) s)"
  if ((rc != 0)) || [[ "${fail:-1}" != 0 ]]; then
    grep -E '^not ok' "$tap" 2>/dev/null | head -20
    record "$stage" FAIL "$detail${log:+; log $log}"
  else
    record "$stage" ok "$detail"
  fi
  if [[ "${skip:-0}" != 0 ]]; then
    local count reason
    while read -r count reason; do
      note "$count skipped: $reason"
    done < <(grep -Eo '# SKIP.*' "$tap" | sed -E 's/^# SKIP *//' | sort | uniq -c)
  fi
  return 0
}
