#!/usr/bin/env bash
# tests/unit/layering_check.sh — the dependency direction of ARCHITECTURE.md, checked on the
# sources (the build enforces it too: only dataplane/ gets DPDK's include paths).
set -euo pipefail
root=${1:?source root}
cd "$root"
fail=0
check() {  # folder, forbidden include pattern, reason
  local hits
  hits=$(grep -rnE "#include *[<\"]($2)" "$1" --include='*.h' --include='*.cc' || true)
  if [[ -n "$hits" ]]; then
    echo "layering violation in $1/ ($3):"; echo "$hits"; fail=1
  fi
}
for d in common tcpstack smtp scan control; do check "$d" 'rte_' 'no DPDK outside dataplane/'; done
check common 'tcpstack/|smtp/|scan/|dataplane/|control/' 'common depends on nothing'
for d in tcpstack smtp scan; do
  others=$(printf '%s\n' tcpstack smtp scan | grep -vx "$d" | paste -sd'|')
  check "$d" "($others|dataplane|control)/" "$d depends only on common"
done
check control 'dataplane/|tcpstack/|smtp/' 'control uses common and scan only'
echo "layering: ok"
exit $fail
