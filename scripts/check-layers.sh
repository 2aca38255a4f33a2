#!/usr/bin/env bash
# check-layers.sh: every #include of a project header respects the layering of
# docs/development.md ("Map of the tree"). For each folder, the table below lists the project
# headers its non-test sources may include; tests, fakes, fixtures and benchmarks may reach
# further (they build whole graphs). Prints each violation as FILE: #include "X"; exits 1 on any.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

# folder -> allowed include prefixes (a prefix ending in / is a folder, else one header).
declare -A allowed=(
  [common]="common/"
  [crypto]="common/ crypto/"
  [store]="common/ store/"
  [oidc]="common/ crypto/ oidc/"
  [domain]="common/ crypto/ oidc/ store/store.h store/webhook_events.h domain/"
  [http]="common/ http/"
  [api]="common/ crypto/ oidc/ store/store.h store/notifications.h domain/ http/ api/"
  [jobs]="common/ crypto/hash.h crypto/secret_box.h store/store.h domain/ http/metrics.h jobs/"
  [cli]="common/ crypto/ cli/"
)

is_test_file() {
  [[ "$1" =~ (_test\.cc|_test_support\.h|_fixture\.h|_bench\.cc|/testing/|/fake_|test_backends\.h|_testing\.h)$ ||
     "$1" == */testing/* || "$1" == */fake_* ]]
}

violations=0
for folder in "${!allowed[@]}"; do
  while IFS= read -r file; do
    is_test_file "$file" && continue
    while IFS= read -r include; do
      ok=0
      for prefix in ${allowed[$folder]}; do
        if [[ "$prefix" == */ && "$include" == "$prefix"* ]] || [[ "$include" == "$prefix" ]]; then
          ok=1
          break
        fi
      done
      if ((!ok)); then
        echo "$file: #include \"$include\" (folder $folder may include: ${allowed[$folder]})"
        violations=$((violations + 1))
      fi
    done < <(sed -nE 's/^#include "([a-z_]+\/[A-Za-z0-9_\/.]+)".*/\1/p' "$file")
  done < <(git ls-files "$folder" | grep -E '\.(h|cc)$')
done
if ((violations)); then
  echo "check-layers.sh: $violations include(s) against the layering"
  exit 1
fi
echo "check-layers.sh: layering holds"
