#!/usr/bin/env bash
# `chainloop-controlplane serve --help` (and `migrate --help`) must list every server option.
# The options are defined on the root command and reach the subcommands through fallthrough,
# so this compares each subcommand's help with the root's.
set -euo pipefail
bin="$1"
options_in() { "$bin" "$@" --help | grep -oE '^  --[a-z0-9-]+' | sort -u; }
root="$(options_in | grep -v -- '^  --version$')"
if [[ "$(wc -l <<<"$root")" -lt 20 ]]; then
  echo "FAIL: only $(wc -l <<<"$root") options in chainloop-controlplane --help"
  exit 1
fi
if "$bin" serve --help | grep -E '^  --[a-z0-9-]+ TEXT' ; then
  echo "FAIL: the options above show the generic TEXT instead of their value's kind"
  exit 1
fi
for cmd in serve migrate; do
  missing="$(comm -23 <(echo "$root") <(options_in "$cmd"))"
  if [[ -n "$missing" ]]; then
    echo "FAIL: '$cmd --help' does not list:"
    echo "$missing"
    exit 1
  fi
done
echo "serve --help and migrate --help list all $(wc -l <<<"$root") server options"
