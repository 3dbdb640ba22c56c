#!/usr/bin/env bash
# tests/unit/layering_check.sh — the dependency direction of ARCHITECTURE.md, checked on the
# sources (the build enforces it too: only dataplane/ gets DPDK's include paths).
set -euo pipefail
root=${1:?source root}
cd "$root"
fail=0
check() {  # folder, forbidden include pattern, reason
  local hits
  [[ -d $1 ]] || return 0
  hits=$(grep -rnE "#include *[<\"]($2)" "$1" --include='*.h' --include='*.cc' || true)
  if [[ -n "$hits" ]]; then
    echo "layering violation in $1/ ($3):"; echo "$hits"; fail=1
  fi
}
for d in common tcpstack smtp scan ipc control; do check "$d" 'rte_' 'no DPDK outside dataplane/'; done
check common 'tcpstack/|smtp/|scan/|ipc/|dataplane/|control/' 'common depends on nothing'
for d in tcpstack smtp scan; do
  others=$(printf '%s\n' tcpstack smtp scan | grep -vx "$d" | paste -sd'|')
  check "$d" "($others|ipc|dataplane|control)/" "$d depends only on common"
done
check ipc 'tcpstack/|smtp/|dataplane/|control/' 'ipc (the contract) uses common and scan only'
check control 'dataplane/|tcpstack/|smtp/' 'control uses common, scan and ipc only'
if (( fail == 0 )); then echo "layering: ok"; fi
exit $fail
