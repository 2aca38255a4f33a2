#!/usr/bin/env bash
# bench-smoke.sh: runs every benchmark of the repository once, briefly (tiny durations and sizes),
# to prove that each still works: it fails if any benchmark exits non-zero, crashes, hangs past
# its time limit, or reports a failed benchmark or request. It asserts no speed number: the
# numbers printed by such short runs mean nothing (bench/README.md says how to measure).
#
# Usage: scripts/bench-smoke.sh [--list] [NAME...]
#   --list   prints the benchmarks of the table below and exits
#   NAME...  runs only these (default: all)
# Needs a build tree configured with CL_BENCH=ON and fully built (scripts/test.sh makes one), wrk
# and nginx (scripts/install-deps.sh), PostgreSQL 15 for the postgres lines
# (scripts/with-postgres.sh), and npm ci done in devenv/ and tests/.
# Environment: CL_BUILD_DIR (default build), CL_BENCH_SMOKE_TIMEOUT (seconds per benchmark,
# default 180), TMPDIR (default /dev/shm: the SQLite files of the benchmarks live there).
# Prints one line per benchmark (name, ok or FAILED, seconds); each one's output is kept in
# $CL_BUILD_DIR/bench-smoke-logs/NAME.log. Exit status 0 only when every benchmark passed.
set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
B="$(cd "${CL_BUILD_DIR:-build}" 2>/dev/null && pwd)" || {
  echo "bench-smoke: no build tree at ${CL_BUILD_DIR:-build}" >&2
  exit 2
}
export B
limit="${CL_BENCH_SMOKE_TIMEOUT:-180}"
if [[ -z "${TMPDIR:-}" && -d /dev/shm ]]; then export TMPDIR=/dev/shm; fi
export NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
# A missing binary or IdP is a failure here, not a skipped benchmark.
export CL_E2E_STRICT=1
export CL_BUILD_DIR="$B"

# --- the benchmarks: one line each -------------------------------------------------------------
# NAME, then the command, run by bash from the repository root ($B: the build tree). Helpers:
#   gbench BINARY [ARGS]      a Google Benchmark program, each benchmark once for ~0.01 s; fails
#                             when a benchmark reports an error (SkipWithError exits 0)
# Sizes are the smallest that still take every code path of the benchmark. The soak keeps its
# own verdict (no errors, no growth of descriptors, RSS growth under 10% after the warm-up): with
# SQLite's page cache bounded to 1 MiB its RSS grows ~2-3% in these few seconds. auth_bench's
# 100,000-token fixture is most of the time (~30 s of CPU); the whole run takes ~1.5 min on 2
# idle cores, 3 min on a busy machine.
benchmarks=$(cat <<'EOF'
crypto_bench          gbench "$B/crypto/crypto_bench"
auth_bench            gbench "$B/domain/auth_bench"
ci_verifier_bench     gbench "$B/oidc/ci_verifier_bench"
sweep_bench_sqlite    "$B/jobs/sweep_bench" sqlite --orgs 20 --tokens-per-org 50
sweep_bench_postgres  bash scripts/with-postgres.sh "$B/jobs/sweep_bench" postgres --orgs 20 --tokens-per-org 50
http_bench            BENCH_DURATION=1s BENCH_WARMUP=1s BENCH_ROUNDS=1 BENCH_TOKENS=200 node bench/http_bench.mjs
keyless_bench         BENCH_DURATION_S=1 BENCH_CLIENTS=4 BENCH_TOKENS=300 node bench/keyless_bench.mjs
anonymous_load_bench  BENCH_CLIENTS=20 BENCH_SECONDS=3 BENCH_IDP_DELAY_MS=200 node bench/anonymous_load_bench.mjs
body_memory_bench     BENCH_CONNECTIONS=40 BENCH_BODY_BYTES=262144 BENCH_PIECE_MS=50 node bench/body_memory_bench.mjs
soak_sqlite           SOAK_SECONDS=9 SOAK_WARMUP_SECONDS=3 SOAK_SAMPLE_SECONDS=1 SOAK_SQLITE_CACHE_MIB=1 node bench/soak.mjs
soak_postgres         SOAK_SECONDS=9 SOAK_WARMUP_SECONDS=3 SOAK_SAMPLE_SECONDS=1 bash scripts/with-postgres.sh env CL_E2E_DATABASE=postgres node bench/soak.mjs
db_bench_sqlite       BENCH_DURATION_S=1 BENCH_EXISTING=20 BENCH_EXCHANGE_TOKENS=300 node bench/db_bench.mjs
db_bench_postgres     bash scripts/with-postgres.sh env BENCH_DATABASE=postgres BENCH_DURATION_S=1 BENCH_EXISTING=20 BENCH_EXCHANGE_TOKENS=300 node bench/db_bench.mjs
start_bench_sqlite    BENCH_TOKENS=2000 BENCH_STARTS=1 node bench/start_bench.mjs
start_bench_postgres  bash scripts/with-postgres.sh env BENCH_DATABASE=postgres BENCH_TOKENS=2000 BENCH_STARTS=1 node bench/start_bench.mjs
EOF
)

gbench() {
  local bin="$1" out
  shift
  out="$(mktemp "${TMPDIR:-/tmp}/cl-gbench.XXXXXX")"
  # Google Benchmark 1.7 (Debian 12) takes the minimum time as plain seconds, without a unit.
  "$bin" --benchmark_min_time=0.01 --benchmark_out="$out" --benchmark_out_format=json "$@"
  local rc=$?
  if ((rc == 0)) && ! grep -q '"name"' "$out"; then
    echo "bench-smoke: $bin ran no benchmark"
    rc=1
  fi
  if grep -q '"error_occurred": true' "$out"; then
    echo "bench-smoke: a benchmark reported an error:"
    grep -B3 -A1 '"error_occurred": true' "$out" | grep '"name"\|"error_message"'
    rc=1
  fi
  rm -f "$out"
  return "$rc"
}

export -f gbench

names=()
commands=()
while read -r name command; do
  [[ -z "$name" || "$name" == \#* ]] && continue
  names+=("$name")
  commands+=("$command")
done <<<"$benchmarks"

if [[ "${1:-}" == --list ]]; then
  printf '%s\n' "${names[@]}"
  exit 0
fi
selected=("$@")
if ((${#selected[@]})); then
  for want in "${selected[@]}"; do
    [[ " ${names[*]} " == *" $want "* ]] || { echo "bench-smoke: no benchmark '$want' (see --list)" >&2; exit 2; }
  done
fi

logs="$B/bench-smoke-logs"
mkdir -p "$logs"
results=()
failed=0
ran=0
start_all=$SECONDS
for i in "${!names[@]}"; do
  name="${names[$i]}"
  if ((${#selected[@]})) && [[ " ${selected[*]} " != *" $name "* ]]; then continue; fi
  log="$logs/$name.log"
  start=$SECONDS
  # timeout runs the command in its own process group and signals all of it: a hung benchmark
  # and the servers it started are stopped.
  timeout -k 10 "$limit" bash -c "${commands[$i]}" </dev/null >"$log" 2>&1
  rc=$?
  took=$((SECONDS - start))
  ran=$((ran + 1))
  if ((rc == 0)); then
    results+=("$(printf '%-24s %-7s %4d s' "$name" ok "$took")")
  else
    failed=$((failed + 1))
    why="exit $rc"
    ((rc == 124)) && why="timed out after $limit s"
    results+=("$(printf '%-24s %-7s %4d s  (%s; log %s)' "$name" FAILED "$took" "$why" "$log")")
    echo "--- last lines of $log:"
    tail -n 25 "$log"
    echo "---"
  fi
  echo "${results[-1]}"
done

echo
echo "================ benchmark smoke (no numbers asserted) ================"
printf '%s\n' "${results[@]}"
echo "$ran benchmarks, $failed failed ($((SECONDS - start_all)) s)"
((failed == 0))
