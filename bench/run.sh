#!/usr/bin/env bash
# Reproduces the numbers in docs/benchmarks.md: builds the release binaries in build-bench
# (-DCL_BENCH=ON, which the benchmark targets need; see bench/README.md),
# runs the Google Benchmark of the authentication hot path, then the end-to-end HTTP benchmark
# (wrk against the control plane and Debian's nginx in the same run) and the memory measurement
# with many API tokens cached (bench/http_bench.mjs). Takes about 8-10 minutes on 2 cores.
#
# Usage: bench/run.sh [--skip-build] [--skip-micro] [--skip-http]
# Environment: see bench/http_bench.mjs (BENCH_DURATION, BENCH_TOKENS, BENCH_PERF=1, ...).
# Output: printed, and kept in build-bench/bench-results/ (micro.json, http.txt, machine.txt).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${CL_BUILD_DIR:-$repo/build-bench}"
out="$build/bench-results"
skip_build=0 skip_micro=0 skip_http=0
for arg in "$@"; do
  case "$arg" in
    --skip-build) skip_build=1 ;;
    --skip-micro) skip_micro=1 ;;
    --skip-http) skip_http=1 ;;
    *) echo "unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# Tools: wrk and nginx from Debian. Installing nginx does not start it here (policy-rc.d);
# the benchmark runs its own instance from a private prefix.
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx)
if ((${#need[@]})); then
  echo "== installing ${need[*]} (apt-get)"
  apt-get install -y --no-install-recommends "${need[@]}" >/dev/null
fi
# (Not $NGINX: nginx reads that variable as a list of inherited sockets.)
export NGINX_BIN="${NGINX_BIN:-$(command -v nginx || echo /usr/sbin/nginx)}"
if [[ ! -d "$repo/devenv/node_modules/oidc-provider" ]]; then
  echo "== installing the development IdP's npm packages"
  (cd "$repo/devenv" && npm ci --silent)
fi

if ((!skip_build)); then
  echo "== building release binaries in $build"
  cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCL_BENCH=ON >/dev/null
  cmake --build "$build" --target auth_bench chainloop-controlplane chainloop -j2
fi

mkdir -p "$out"
# Temp dirs (SQLite files) on tmpfs unless TMPDIR says otherwise: creating 100,000 tokens with an
# fsync per commit takes minutes on this disk, and neither benchmark measures the database.
if [[ -z "${TMPDIR:-}" && -d /dev/shm ]]; then export TMPDIR=/dev/shm; fi
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "nproc: $(nproc)"
  grep -m1 'model name' /proc/cpuinfo
  grep -m1 'MemTotal' /proc/meminfo
  uname -srm
  echo "g++: $(g++ -dumpfullversion)"
  echo "nginx: $("$NGINX_BIN" -v 2>&1)"
  echo "wrk: $(wrk -v 2>&1 | head -1)"
  echo "node: $(node --version)"
  echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/machine.txt"

if ((!skip_micro)); then
  echo "== Google Benchmark: cached authentication (domain/auth_bench)"
  "$build/domain/auth_bench" --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
    --benchmark_out="$out/micro.json" --benchmark_out_format=json
fi

if ((!skip_http)); then
  echo "== HTTP: memory with many tokens cached, then wrk rounds (nginx, healthz, whoami)"
  CL_BUILD_DIR="$build" BENCH_OUT_DIR="$out" node "$repo/bench/http_bench.mjs" | tee "$out/http.txt"
fi
