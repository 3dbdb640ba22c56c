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

# ---- gateway tests ----
# Every gateway test gets its own state (gw_config): the transaction log, quarantine and spool
# live under the test's temporary directory, so no test sees another's (or an earlier run's)
# files. Only the certificate and the EICAR database that `scripts/lab up` writes are shared.
GWDIR=/run/mxlab/gateway
TXLOG=$GWDIR/transactions.log
# gw_config DIR: a copy of the lab config, tenants and rules in DIR (tests may edit the copies),
# with the transaction log and quarantine in DIR/gw and the spool in DIR/spool; sets GWDIR and
# TXLOG to match.
gw_config() {
  cp "$ROOT/config/lab.toml" "$ROOT/config/tenants.toml" "$ROOT/config/example.rules" "$1/"
  GWDIR=$1/gw
  TXLOG=$GWDIR/transactions.log
  mkdir -p "$GWDIR"
  sed -i -e "s|^spool_dir = .*|spool_dir = \"$1/spool\"|" \
    -e "s|^quarantine_dir = .*|quarantine_dir = \"$GWDIR/quarantine\"|" \
    -e "s|^log_file = .*|log_file = \"$TXLOG\"|" "$1/lab.toml"
}
# sink_start DIR PORT [EXTRA...]: aiosmtpd on 198.18.0.1:PORT inside the lab, storing into DIR;
# sets SINK_PID. EXTRA: cert key [require-tls].
sink_start() {
  local dir=$1 port=$2; shift 2
  mkdir -p "$dir"
  PEER_HOST=198.18.0.1 ip netns exec mxlab /usr/bin/python3 "$ROOT/tests/e2e/aiosmtpd_peer.py" "$dir" "$port" "$@" \
    >"$dir.out" 2>&1 &
  SINK_PID=$!
  for _ in $(seq 1 100); do grep -q listening "$dir.out" 2>/dev/null && return 0; sleep 0.1; done
  cat "$dir.out"; return 1
}
sink_stop() { if [[ -n ${1:-} ]]; then kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; fi; }
# Log lines of the transaction log since the test started (the file is kept across runs).
txlog() { tail -n +"$((TXLOG_START + 1))" "$TXLOG" 2>/dev/null; }
txlog_mark() { TXLOG_START=$( [[ -f $TXLOG ]] && wc -l <"$TXLOG" || echo 0); }
# lab_down_checked: stop mxgate; it must exit 0 without a sanitizer report (ASan/UBSan builds).
lab_down_checked() {
  local out rc=0
  out=$("$LAB" down 2>&1) || rc=$?
  check "mxgate exited with status 0" grep -q 'exited with status 0' <<<"$out"
  check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG'"
}
