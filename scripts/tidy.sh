#!/usr/bin/env bash
# tidy.sh [FILE_REGEX]: clang-tidy 14 with the checks of .clang-tidy over every translation unit
# in the build tree's compile_commands.json (or those matching FILE_REGEX), two at a time.
# Prints each finding once and exits non-zero when there is any. Configures the tree with the
# default preset first when it has no compile_commands.json (generated sources are not needed:
# the tree does not have to be built).
#
# Overrides: CL_BUILD_DIR (default build), CL_JOBS (2). On 2 cores the whole tree takes about
# as long as a clean build of it.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
build_dir="${CL_BUILD_DIR:-build}"
jobs="${CL_JOBS:-2}"

runner=$(command -v run-clang-tidy-14 || command -v run-clang-tidy) || {
  echo "tidy.sh: run-clang-tidy not found (scripts/install-deps.sh installs clang-tidy)" >&2
  exit 2
}
tidy=$(command -v clang-tidy-14 || command -v clang-tidy)
if [[ ! -f "$build_dir/compile_commands.json" ]]; then
  cmake --preset default -B "$build_dir" >/dev/null || exit 2
fi

log=$(mktemp "${TMPDIR:-/tmp}/cl-tidy.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$SECONDS
# run-clang-tidy colours its output even into a file: strip the escapes.
"$runner" -clang-tidy-binary "$tidy" -p "$build_dir" -j "$jobs" -quiet "${1:-.}" 2>&1 |
  sed 's/\x1b\[[0-9;]*m//g' >"$log"
rc=${PIPESTATUS[0]}
# A header's finding is reported once per file that includes it: print each once.
findings=$(grep -E '^/.*:[0-9]+:[0-9]+: (warning|error):' "$log" | sort -u)
count=$(grep -c . <<<"$findings")
if [[ -n "$findings" ]]; then
  # With its context lines: the first report of each distinct finding.
  grep -Ev 'warnings? generated\.$|^[^ ]*clang-tidy[^ ]* ' "$log" |
    awk '/^\/.*:[0-9]+:[0-9]+: (warning|error):/ { show = !seen[$0]++ } show'
  echo "tidy.sh: $count finding(s) in $((SECONDS - start)) s"
  exit 1
fi
if ((rc != 0)); then
  cat "$log"
  echo "tidy.sh: clang-tidy failed (exit $rc) after $((SECONDS - start)) s"
  exit 1
fi
echo "tidy.sh: no findings ($((SECONDS - start)) s)"
