#!/usr/bin/env bash
# The tenant's server misbehaving, and mxgate crashing: a 250 is only ever given for mail the
# tenant's server accepted. Downstream 4xx and a connection dropped after the final dot give the
# sender 4xx; downstream 5xx is passed on; per-recipient refusals downstream are logged; SIGKILL of
# mxgate in the middle of DATA leaves the sender without 250 and nothing partial downstream.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
SINK_PID=""
cleanup() { sink_stop "$SINK_PID"; lab_down_quiet; rm -rf "$work"; }
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
sed -i 's/^spool = true .*/spool = false/' "$work/tenants.toml"  # failures reach the sender here
sed -i 's/^max_sessions = .*/max_sessions = 16/' "$work/lab.toml"
txlog_mark
"$LAB" up "$work/lab.toml" >/dev/null
SINK=$work/sink
sink_start "$SINK" 2526
count() { ls "$SINK"/*.eml 2>/dev/null | wc -l; }
mode() { echo "$1" >"$SINK.mode"; }
sw() { ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --helo client.sender.test --from alice@sender.test \
         --timeout 30 "$@" 2>&1 || true; }

mode tempfail
out=$(sw --to bob@example.test --body "downstream says 451")
check "downstream 4xx: sender gets 451" grep -q '<\*\* 451 4.4.1' <<<"$out"
check "downstream 4xx: nothing stored" eq "$(count)" 0

mode permfail
out=$(sw --to bob@example.test --body "downstream says 554")
check "downstream 5xx: passed on" grep -q '<\*\* 554 5.7.1 downstream: downstream refuses this message' <<<"$out"

mode drop
out=$(sw --to bob@example.test --body "downstream hangs up after the dot")
check "dropped after the dot: sender gets 451" grep -q '<\*\* 451 4.4.1' <<<"$out"
check "dropped after the dot: nothing stored" eq "$(count)" 0

mode accept
# Recipients are checked with the tenant's server before the sender's RCPT is answered
# (verify_recipients): the one it refuses is refused to the sender, never bounced later.
out=$(sw --to unknown-1@example.test,bob@example.test --body "one refused downstream")
check "per recipient: the unknown one refused at RCPT with the server's reply" \
  grep -q '<\*\* 550 5.1.1 downstream: no such user here' <<<"$out"
check "per recipient: accepted for the other" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "per recipient: stored for bob only" bash -c "grep -q '^RCPT TO:<bob@example.test>' '$SINK/0001.env' && ! grep -q unknown '$SINK/0001.env'"
check "per recipient: the refusal is logged" \
  bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep '\"event\":\"refused\",\"stage\":\"rcpt\"' | grep -q 'unknown-1@example.test.*downstream: no such user here'"
out=$(sw --to unknown-1@example.test,unknown-2@example.test --body "all refused downstream")
check "every recipient refused downstream: 5xx to the sender, no DATA" grep -q '<\*\* 550 5.1.1 downstream:' <<<"$out"
check "every recipient refused downstream: nothing stored" eq "$(count)" 1
out=$(sw --to busy-1@example.test --body "busy mailbox")
check "a recipient the server defers: 4xx at RCPT, for the sender to retry" grep -q '<\*\* 451 4.2.1 downstream: mailbox busy' <<<"$out"
check "log: downstream failures recorded" ge "$(tail -n +$((TXLOG_START + 1)) "$TXLOG" | grep -c '"downstream":"4\|"downstream":"5')" 2

# The session limit: the 17th concurrent connection gets 421, the others keep working.
out=$(ip netns exec mxlab /usr/bin/python3 - <<'PY'
import socket
held = []
for i in range(16):
    s = socket.create_connection(("198.18.0.2", 25), timeout=10)
    held.append((s, s.makefile("rb")))
    assert held[-1][1].readline().startswith(b"220"), i
extra = socket.create_connection(("198.18.0.2", 25), timeout=10)
print("17th:", extra.makefile("rb").readline().decode().strip())
s, f = held[0]
s.sendall(b"NOOP\r\n")
print("first:", f.readline().decode().strip())
for s, f in held:
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
PY
)
check "session limit: 421 beyond it" grep -q '^17th: 421 4.3.2' <<<"$out"
check "session limit: the held sessions still answer" grep -q '^first: 250' <<<"$out"

# SIGKILL in the middle of DATA: the sender never sees 250, nothing reaches the tenant.
before=$(count)
ip netns exec mxlab /usr/bin/python3 - "$MXLAB_STATE/mxgate.pid" >"$work/kill.out" 2>&1 <<'PY' && rc=0 || rc=$?
import os, signal, socket, sys, time
s = socket.create_connection(("198.18.0.2", 25), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line or line[3:4] != b"-":
            return line
reply()
for cmd in (b"EHLO x.test", b"MAIL FROM:<a@sender.test>", b"RCPT TO:<bob@example.test>", b"DATA"):
    s.sendall(cmd + b"\r\n")
    r = reply()
print("in DATA:", r)
s.sendall(b"Subject: half\r\n\r\n" + b"first half of the body\r\n" * 2000)
time.sleep(0.5)
os.kill(int(open(sys.argv[1]).read()), signal.SIGKILL)
print("killed")
try:
    s.settimeout(3)
    rest = s.recv(4096)
except OSError as e:
    rest = repr(e).encode()
print("after kill:", rest)
PY
check "SIGKILL mid-DATA: the helper ran to its end" eq "$rc" 0
check "SIGKILL mid-DATA: the session was in DATA (354)" grep -q "^in DATA: b'354" "$work/kill.out"
check "SIGKILL mid-DATA: mxgate was killed" grep -qx "killed" "$work/kill.out"
check "SIGKILL mid-DATA: mxgate is gone" bash -c "! kill -0 \$(cat '$MXLAB_STATE/mxgate.pid') 2>/dev/null"
check "SIGKILL mid-DATA: no 250 seen" bash -c "! grep -q \"b'250\" '$work/kill.out'"
check "SIGKILL mid-DATA: nothing partial downstream" eq "$(count)" "$before"
# The sink lives in the namespace: it goes and comes back with the lab.
sink_stop "$SINK_PID"
lab_down_quiet
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink2" 2526
out=$(sw --to bob@example.test --body "after the restart")
check "after restart: delivered" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "after restart: exactly that message" eq "$(ls "$work/sink2"/*.eml | wc -l)" 1
check "after restart: no half message anywhere" bash -c "! grep -l 'first half of the body' '$SINK'/*.eml '$work/sink2'/*.eml"
lab_down_checked
finish
