# tests/e2e/lib.sh — helpers for lab end-to-end tests (sourced). Each test runs as root,
# brings the lab up with scripts/lab, and always takes it down again (trap).
set -euo pipefail
ROOT=${MX_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
LAB=$ROOT/scripts/lab
export MXGATE=${MXGATE:-$ROOT/build/dataplane/mxgate}
export MXLAB_STATE=${MXLAB_STATE:-/run/mxlab}
LOG=$MXLAB_STATE/mxgate.log
FAILS=0

say() { echo "[$(basename "$0")] $*"; }
fail() { say "FAIL: $*"; FAILS=$((FAILS + 1)); }
check() {  # check DESCRIPTION CMD... — records a failure instead of exiting
  local what=$1; shift
  if "$@"; then say "ok: $what"; else fail "$what"; fi
}
eq() { [[ "$1" == "$2" ]] || { say "  expected '$2', got '$1'"; return 1; }; }
ge() { (( $1 >= $2 )) || { say "  expected >= $2, got $1"; return 1; }; }
lt() { (( $1 < $2 )) || { say "  expected < $2, got $1"; return 1; }; }

# Sum of a stack counter over all "mxgate: counters lcore=.. port=.." lines of the log.
counter() {
  grep '^mxgate: counters lcore=.* port=' "$LOG" | grep -o " $1=[0-9]*" | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}
# A driver counter from the "mxgate: counters port=NAME driver" line.
driver_counter() {
  grep '^mxgate: counters port=.* driver' "$LOG" | grep -o " $1=[0-9]*" | cut -d= -f2 | awk '{s+=$1} END {print s+0}'
}
# A field of the namespace's /proc/net/snmp (e.g. snmp Icmp OutEchos).
snmp() {
  ip netns exec mxlab awk -v p="$1:" -v f="$2" '$1==p && !h {for(i=2;i<=NF;i++) n[i]=$i; h=1; next}
    $1==p && h {for(i=2;i<=NF;i++) if (n[i]==f) print $i}' /proc/net/snmp
}
lab_down_quiet() { "$LAB" down >/dev/null 2>&1 || true; }
finish() {
  if ((FAILS)); then say "$FAILS check(s) failed"; [[ -f $LOG ]] && tail -n 20 "$LOG"; exit 1; fi
  say "all checks passed"
}
