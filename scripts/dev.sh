#!/usr/bin/env bash
# From a fresh machine to a running development control plane, ready for `chainloop auth login`:
# installs dependencies, builds, starts the development IdP on 127.0.0.1:8090 (log in
# .data/idp.log) and runs the control plane on 127.0.0.1:8000 with its embedded default store
# (SQLite in ./.data). Ctrl-C stops both.
#
# Overrides: CL_BUILD_DIR (default build), CL_DEV_PORT (8000), CL_IDP_PORT (8090), CL_JOBS (2).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
repo_root="$(pwd)"
build_dir="${CL_BUILD_DIR:-build}"
port="${CL_DEV_PORT:-8000}"
idp_port="${CL_IDP_PORT:-8090}"
jobs="${CL_JOBS:-2}"
data_dir="$repo_root/.data"
base_url="http://127.0.0.1:$port"

bash scripts/install-deps.sh --run  # only what building and running needs; scripts/test.sh adds the rest

echo "dev: building (RelWithDebInfo) in $build_dir"
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$jobs" --target chainloop-controlplane chainloop web_ui

port_busy() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
for p in "$port" "$idp_port"; do
  if port_busy "$p"; then
    echo "dev: 127.0.0.1:$p is already in use; stop whatever listens there first" >&2
    exit 1
  fi
done

mkdir -p "$data_dir"
chmod 700 "$data_dir"

idp_pid=""
server_pid=""
# shellcheck disable=SC2317  # called by traps
stop_all() {
  trap - EXIT INT TERM
  [[ -n "$server_pid" ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [[ -n "$idp_pid" ]] && kill -TERM "$idp_pid" 2>/dev/null && wait "$idp_pid" 2>/dev/null
  return 0
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

node devenv/idp.mjs --host 127.0.0.1 --port "$idp_port" \
  --redirect-uri "$base_url/auth/callback" \
  >"$data_dir/idp.ready" 2>"$data_dir/idp.log" &
idp_pid=$!
for _ in $(seq 1 150); do
  [[ -s "$data_dir/idp.ready" ]] && break
  kill -0 "$idp_pid" 2>/dev/null || { echo "dev: IdP failed, see .data/idp.log:" >&2; tail -20 "$data_dir/idp.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$data_dir/idp.ready" ]] || { echo "dev: IdP did not start within 15 s" >&2; exit 1; }
echo "dev: development IdP at http://127.0.0.1:$idp_port (log: .data/idp.log)"

CHAINLOOP_OIDC_CLIENT_SECRET=dev-secret "$build_dir/server/chainloop-controlplane" serve \
  --listen "127.0.0.1:$port" \
  --external-url "$base_url" \
  --database "sqlite:$data_dir/controlplane.db" \
  --data-dir "$data_dir" \
  --oidc-issuer "http://127.0.0.1:$idp_port" \
  --oidc-client-id chainloop-dev \
  --session-lifetime 24h \
  --log-format "${CHAINLOOP_LOG_FORMAT:-text}" &
server_pid=$!

for _ in $(seq 1 200); do
  curl -fsS -o /dev/null "$base_url/readyz" 2>/dev/null && break
  kill -0 "$server_pid" 2>/dev/null || { server_pid=""; echo "dev: control plane exited" >&2; exit 1; }
  sleep 0.1
done

login_cmd="./$build_dir/cli/chainloop auth login"
[[ "$port" == 8000 ]] || login_cmd="./$build_dir/cli/chainloop --control-plane $base_url auth login"
cat <<MSG

  Control plane ready at $base_url (data in .data/, Ctrl-C to stop).
  In another terminal, log in (any user name; the password is ignored by the dev IdP):

      $login_cmd

MSG

set +e
wait "$server_pid"
status=$?
server_pid=""
exit "$status"
