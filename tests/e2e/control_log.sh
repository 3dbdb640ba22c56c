#!/usr/bin/env bash
# Log collection: every transaction record the data plane writes reaches mxgate-control exactly
# once — also when control is killed (SIGKILL) in the middle of a load and comes back, and when
# mxgate itself restarts meanwhile. Records are searchable with mxgatectl log search. The node's
# own counters reach control too (stats frames): GET /metrics relays them with node="lab-1", and
# its messages by class and action equal the node's records.
# Under tests/unit/control/with_postgresql.sh (MXGATE_TEST_PG set) control keeps its store on
# that PostgreSQL server instead of a SQLite file, and the same checks read it with psql.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
SINK_PID=""; CTL_PID=""
CTL=${MXGATE_CONTROL:-$ROOT/build/control/mxgate-control}
CLI=${MXGATECTL:-$ROOT/build/control/mxgatectl}
cleanup() {
  sink_stop "$SINK_PID"; lab_down_quiet
  if [[ -n $CTL_PID ]]; then kill "$CTL_PID" 2>/dev/null || true; wait "$CTL_PID" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
cat >>"$work/lab.toml" <<EOF

[control]
socket = "$work/control.sock"
node_name = "lab-1"
state_dir = "$work/state"
EOF
export MXGATECTL_SOCKET=$work/api.sock
STORE=${MXGATE_TEST_PG:-$work/control.db}
if [[ -n ${MXGATE_TEST_PG:-} ]]; then
  say "store: PostgreSQL ($MXGATE_TEST_PG)"
  records_sql() { psql "$MXGATE_TEST_PG" -XAtq -c "$1"; }
  DISTINCT_IDS="SELECT count(DISTINCT convert_from(line, 'UTF8')::json->>'id') FROM log_records WHERE convert_from(line, 'UTF8')::json->>'event' = 'message';"
  ALL_LINES="SELECT convert_from(line, 'UTF8') FROM log_records ORDER BY seq;"
else
  records_sql() { sqlite3 "$work/control.db" "$1"; }
  DISTINCT_IDS="SELECT count(DISTINCT json_extract(line, '\$.id')) FROM log_records WHERE json_extract(line, '\$.event') = 'message';"
  ALL_LINES="SELECT line FROM log_records ORDER BY seq;"
fi
ctl_start() {
  "$CTL" --store "$STORE" --node-socket "$work/control.sock" --api-socket "$work/api.sock" \
    >>"$work/control.log" 2>&1 &
  CTL_PID=$!
  for _ in $(seq 1 50); do [[ -S $work/api.sock ]] && "$CLI" status >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$work/control.log"; return 1
}
wait_for() {  # wait_for SECONDS CMD...
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
records() { "$CLI" --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["log_records"])'; }
lines() { wc -l <"$TXLOG"; }
all_collected() { [[ $(records) == $(lines) ]]; }
# GET /metrics on control's API socket: the body.
metrics() {
  /usr/bin/python3 - "$work/api.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n')
r = b''
while True:
    d = s.recv(65536)
    if not d: break
    r += d
head, body = r.split(b'\r\n\r\n', 1)
assert head.startswith(b'HTTP/1.1 200'), head
assert b'Content-Type: text/plain; version=0.0.4' in head, head
sys.stdout.write(body.decode())
PY
}
# node_counters_match FROM TOTAL: lab-1's mxgate_messages_total in /metrics (saved in
# $work/metrics.txt) equal, class by class and action by action, the node's message records from
# line FROM+1 of its log on (the counters start with the process), and add up to TOTAL; why not
# in $work/metrics.why.
node_counters_match() {
  metrics >"$work/metrics.txt" 2>"$work/metrics.why" || return 1
  /usr/bin/python3 - "$work/metrics.txt" "$TXLOG" "$1" "$2" >"$work/metrics.why" 2>&1 <<'PY'
import collections, json, re, sys
body, log, start, total = open(sys.argv[1]).read(), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
want = collections.Counter()
for line in open(log).readlines()[start:]:
    r = json.loads(line)
    if r.get('event') == 'message':
        want[(r.get('class', 'unscanned'), r['action'])] += 1
got = {}
for m in re.finditer(r'^mxgate_messages_total\{node="lab-1",class="([^"]*)",action="([^"]*)"\} (\d+)$', body, re.M):
    got[(m[1], m[2])] = int(m[3])
if not got: sys.exit('no mxgate_messages_total{node="lab-1",...} in /metrics yet')
bad = {k: (got.get(k, 0), want.get(k, 0)) for k in set(got) | set(want) if got.get(k, 0) != want.get(k, 0)}
if bad: sys.exit('metric != records by (class, action): %s' % bad)
if sum(got.values()) != total: sys.exit('%d message(s) in /metrics, %d expected' % (sum(got.values()), total))
PY
}

ctl_start
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink" 2526
N=400
# --- a load; control killed in the middle, then back ---
ip netns exec mxlab timeout 300 smtp-source -s 10 -m "$N" -l 2048 -d -f load@sender.test -t rcpt@example.test -N \
  198.18.0.2:25 >"$work/source.out" 2>&1 &
SRC=$!
wait_for 30 bash -c "(( \$(wc -l <'$TXLOG' 2>/dev/null || echo 0) >= 50 ))" || true
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true; CTL_PID=""
at_kill=$(lines)
say "control killed after $at_kill record(s)"
sleep 2
ctl_start
wait "$SRC" && rc=0 || rc=$?
check "load: smtp-source finished" eq "$rc" 0
check "load: every message a record on the node" eq "$(grep -c '"event":"message"' "$TXLOG")" "$N"
check "control killed mid-load (records were still being written)" lt "$at_kill" "$N"
check "every record collected" wait_for 30 all_collected
check "no record twice" eq "$(records_sql "$DISTINCT_IDS")" "$N"
records_sql "$ALL_LINES" >"$work/collected.txt"
check "the same records as the node's file" diff -q "$work/collected.txt" "$TXLOG"

# --- the node's counters in control's /metrics (stats frames; the node sends them every 5 s) ---
check "metrics: lab-1's messages by class and action equal its $N records" wait_for 30 node_counters_match 0 "$N"
[[ -s $work/metrics.why ]] && say "  $(cat "$work/metrics.why")"
say "  $(grep -E '^mxgate_messages_total\{node="lab-1",' "$work/metrics.txt" | grep -v ' 0$' | tr '\n' ' ')"
check "metrics: lab-1's messages received" grep -qx "mxgate_messages_received_total{node=\"lab-1\"} $N" "$work/metrics.txt"
check "metrics: lab-1's sessions counted" grep -qE '^mxgate_sessions_total\{node="lab-1"\} [1-9][0-9]*$' "$work/metrics.txt"
check "metrics: lab-1's spool depth and generation" bash -c "grep -qx 'mxgate_spool_messages{node=\"lab-1\"} 0' '$work/metrics.txt' &&
  grep -qx 'mxgate_snapshot_generation{node=\"lab-1\"} 0' '$work/metrics.txt'"
check "metrics: one TYPE line per relayed family" bash -c "[[ \$(grep -c '^# TYPE mxgate_messages_total counter\$' '$work/metrics.txt') == 1 ]] &&
  ! grep '^# TYPE' '$work/metrics.txt' | sort | uniq -d | grep -q ."
check "metrics: no stats frame refused" grep -qx 'mxgate_control_stats_refused_total 0' "$work/metrics.txt"

# --- mxgate restarted while control is down: its records wait in its log and arrive later ---
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true; CTL_PID=""
before_restart=$(lines)
lab_down_checked
"$LAB" up "$work/lab.toml" >/dev/null
sink_stop "$SINK_PID"; sink_start "$work/sink2" 2526
ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --from alice@sender.test --to findme@example.test \
  --header "Subject: find me" --timeout 20 >/dev/null 2>&1 || true
check "restart: the message logged on the node" grep -q '"subject":"find me"' "$TXLOG"
ctl_start
check "restart: every record collected" wait_for 30 all_collected
out=$("$CLI" log search --rcpt findme@example.test)
check "search: by recipient" grep -q 'find me' <<<"$out"
check "search: exactly one" eq "$(grep -c 'find me' <<<"$out")" 1
check "metrics: the restarted node's counters (its one message)" wait_for 30 node_counters_match "$before_restart" 1
[[ -s $work/metrics.why ]] && say "  $(cat "$work/metrics.why")"
check "search: --json" /usr/bin/python3 -c "
import json, subprocess
r = json.loads(subprocess.check_output(['$CLI', '--json', 'log', 'search', '--sender', 'LOAD@sender.test', '--limit', '1000']))
assert len(r) == $N, len(r)
assert all(json.loads(x['record'])['mail_from'] == 'load@sender.test' for x in r)
"
"$CLI" --json log follow --sender follow@sender.test --duration 15 >"$work/follow.out" 2>"$work/follow.err" &
FOLLOW_PID=$!
sleep 1
for i in 1 2 3 4 5; do
  ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --from follow@sender.test --to rcpt@example.test \
    --header "Subject: follow $i" --timeout 20 >/dev/null 2>&1 || true
done
wait "$FOLLOW_PID" || true
check "log follow: each new record once, oldest first" /usr/bin/python3 -c "
import json
rows = [json.loads(l) for l in open('$work/follow.out') if l.strip()]
subjects = [r['subject'] for r in rows]
assert subjects == ['follow %d' % i for i in range(1, 6)], subjects
"
lab_down_checked
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG' '$work/control.log'"
finish
