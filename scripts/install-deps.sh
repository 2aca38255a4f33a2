#!/usr/bin/env bash
# Installs the Debian and npm packages the control plane needs, in two sets:
#   scripts/install-deps.sh --run    what building and running it needs (scripts/dev.sh): the
#                                    compiler, the libraries, Node and npm for the development IdP
#                                    and the web UI (npm ci in devenv/ and web/);
#   scripts/install-deps.sh [--test] everything (scripts/test.sh, the default): the run set plus
#                                    the test tools (PostgreSQL server, clang and the fuzzing and
#                                    sanitizer runtimes, Chromium, nginx, wrk, PgBouncer,
#                                    zsh/fish, systemd-analyze, promtool) and npm ci in tests/ and
#                                    tests/web.
# Idempotent and fast when everything is already present; safe to run as root on a fresh
# Debian 12 machine or as a user with sudo.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

mode="test"
case "${1:-}" in
  --run) mode="run" ;;
  --test | "") mode="test" ;;
  *) echo "usage: scripts/install-deps.sh [--run|--test]" >&2; exit 2 ;;
esac

# Building and running: the server, the CLI, the web UI. GoogleTest is here because CMake
# configures the unit tests with everything else (they are not built by scripts/dev.sh).
run_packages=(
  build-essential cmake ninja-build pkg-config g++
  libboost1.81-dev libssl-dev libsqlite3-dev libpq-dev libcurl4-openssl-dev
  libcli11-dev libtomlplusplus-dev libfmt-dev libexpected-dev libgtest-dev libgmock-dev
  curl ca-certificates openssl
)
# Everything the tests use on top of that.
test_packages=(
  googletest libbenchmark-dev ccache
  postgresql-15 clang-format clang-tidy sqlite3
  clang-14 libclang-rt-14-dev llvm-14  # fuzzing (libFuzzer) and sanitizer builds
  chromium  # browser tests (driven by playwright-core; never a downloaded browser)
  nginx-light pgbouncer  # scale-out tests: run from private configs on loopback, never as services
  wrk  # HTTP benchmarks (bench/http_bench.mjs, run briefly by scripts/bench-smoke.sh)
  zsh fish  # syntax checks of the generated shell completion scripts (`zsh -n`, `fish -n`)
  systemd  # systemd-analyze verify of deploy/systemd (never started here)
  prometheus  # promtool: checks of deploy/prometheus rules and of the server's /metrics
)
packages=("${run_packages[@]}")
npm_dirs=(devenv web)
if [[ "$mode" == test ]]; then
  packages+=("${test_packages[@]}")
  npm_dirs+=(tests tests/web)
fi

# Packages whose postinst starts a system service the tests never use (nginx on port 80,
# pgbouncer on 6432, prometheus on 9090): when this run installs them, the service is stopped
# and disabled again.
services_of_packages=(nginx-light:nginx pgbouncer:pgbouncer prometheus:prometheus)

as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then
    "$@"
  else
    sudo "$@"
  fi
}

is_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# Node: keep whatever node >= 20 is there (e.g. from another repository); otherwise take Debian's.
node_major() {
  command -v node >/dev/null 2>&1 || { echo 0; return; }
  node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0
}
if [[ "$(node_major)" -lt 20 ]] && ! is_installed nodejs; then
  packages+=(nodejs)
fi
# A node that ships npm (nodesource) conflicts with Debian's npm package: add it only when absent.
if ! command -v npm >/dev/null 2>&1; then
  packages+=(npm)
fi

# Stops a service a package's postinst started and keeps it from starting at boot: through
# systemd when it runs, else the sysvinit script (containers without an init; systemctl disable
# still removes the unit links it works on offline). Never fails.
stop_and_disable_service() {
  local service="$1"
  if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
    as_root systemctl stop "$service" >/dev/null 2>&1 || true
  elif [[ -x "/etc/init.d/$service" ]]; then
    as_root "/etc/init.d/$service" stop >/dev/null 2>&1 || true
  fi
  if command -v systemctl >/dev/null 2>&1; then
    as_root systemctl disable "$service" >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null 2>&1; then
    as_root update-rc.d "$service" disable >/dev/null 2>&1 || true
  fi
  echo "install-deps: stopped and disabled the $service service (tests run their own)"
}

missing=()
for p in "${packages[@]}"; do
  is_installed "$p" || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
  echo "install-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get -o DPkg::Lock::Timeout=300 update -q
  as_root apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"
  for entry in "${services_of_packages[@]}"; do
    pkg="${entry%%:*}" service="${entry#*:}"
    [[ " ${missing[*]} " == *" $pkg "* ]] && stop_and_disable_service "$service"
  done
else
  echo "install-deps: Debian packages present ($mode set)"
fi

# npm packages, exactly as locked. Skipped when node_modules is newer than the lock file.
for dir in "${npm_dirs[@]}"; do
  lock="$repo_root/$dir/package-lock.json"
  [[ -f "$lock" ]] || continue
  grep -q '"node_modules/' "$lock" || continue # nothing to install
  stamp="$repo_root/$dir/node_modules/.package-lock.json"
  if [[ -f "$stamp" && "$stamp" -nt "$lock" ]]; then
    echo "install-deps: $dir/node_modules up to date"
    continue
  fi
  echo "install-deps: npm ci in $dir"
  (cd "$repo_root/$dir" && npm ci --no-audit --no-fund --loglevel=error)
done
