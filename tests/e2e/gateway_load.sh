#!/usr/bin/env bash
# Postfix's smtp-source (20 sessions, 3000 messages, each with a unique recipient) through mxgate
# to aiosmtpd in the lab: every message arrives exactly once, byte for byte as smtp-source sent
# it (compared with the same smtp-source run straight to the sink), and every one is in the log.
# Then the SMTP smuggling variants: a second transaction hidden behind a non-CRLF dot never
# becomes a second message downstream. Last, the same load with an I/O ring of 2: requests wait
# on their lcore for room (io_ring_full), and still every message gets 250, arrives and is logged.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
SINK_PID=""
cleanup() { sink_stop "$SINK_PID"; lab_down_quiet; rm -rf "$work"; }
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
txlog_mark
"$LAB" up "$work/lab.toml" >/dev/null
N=${GATEWAY_LOAD_MESSAGES:-3000}

# Baseline: what smtp-source sends, straight to a sink (same body generator, 5 messages).
sink_start "$work/direct" 2526
ip netns exec mxlab timeout 120 smtp-source -s 1 -m 5 -l 4096 -f load@sender.test -t rcpt@example.test -N \
  198.18.0.1:2526 >/dev/null 2>&1
sink_stop "$SINK_PID"
sink_start "$work/sink" 2526
SINK=$work/sink
start=$SECONDS
ip netns exec mxlab timeout 600 smtp-source -s 20 -m "$N" -l 4096 -d -f load@sender.test -t rcpt@example.test -N \
  198.18.0.2:25 >"$work/source.out" 2>&1 && rc=0 || rc=$?
say "smtp-source: $N messages in $((SECONDS - start)) s (exit $rc)"
check "smtp-source finished without errors" eq "$rc" 0
for _ in $(seq 1 100); do (( $(ls "$SINK" | grep -c '\.eml$') >= N )) && break; sleep 0.1; done
check "every message arrived" eq "$(ls "$SINK" | grep -c '\.eml$')" "$N"
check "each recipient exactly once" eq "$(cat "$SINK"/*.env | grep '^RCPT TO' | sort -u | wc -l)" "$N"
check "no recipient twice" eq "$(cat "$SINK"/*.env | grep -c '^RCPT TO')" "$N"
# Byte for byte: smtp-source's messages differ only in their headers (recipient, Message-Id);
# every body must equal the direct run's, with the same header field names (nothing added).
check "bodies and header fields identical to the direct run" /usr/bin/python3 - "$SINK" "$work/direct" <<'PY'
import glob, hashlib, os, sys
def shape(d):
    bodies, names = set(), set()
    for f in glob.glob(os.path.join(d, "*.eml")):
        data = open(f, "rb").read()
        head, sep, body = data.partition(b"\r\n\r\n")
        assert sep, f
        bodies.add(hashlib.sha256(body).hexdigest())
        names.add(tuple(sorted(l.split(b":")[0] for l in head.split(b"\r\n") if l[:1] not in (b" ", b"\t"))))
    return bodies, names
got, want = shape(sys.argv[1]), shape(sys.argv[2])
assert got == want, (got, want)
PY
check "one log record per message, all delivered" eq \
  "$(tail -n +$((TXLOG_START + 1)) "$TXLOG" | grep '"event":"message"' | grep -c '"action":"deliver".*"reply":"250 ')" "$N"

# SMTP smuggling (CVE-2023-51764 family): end-of-data forms other than CRLF.CRLF followed by a
# second transaction. The engine refuses bare CR/LF in DATA, so nothing may come out as a
# second message; whatever is accepted arrives as one message.
before=$(ls "$SINK" | grep -c '\.eml$')
smuggle_ok=0
for variant in '\n.\n' '\n.\r\n' '\r.\r\n' '\r\n.\n' '\r\n.\r' '\r\n\x00.\r\n'; do
  ip netns exec mxlab /usr/bin/python3 - "$variant" >>"$work/smuggle.out" 2>&1 <<'PY' && smuggle_ok=$((smuggle_ok + 1)) || true
import socket, sys
eod = sys.argv[1].encode().decode("unicode_escape").encode("latin-1")
s = socket.create_connection(("198.18.0.2", 25), timeout=15)
f = s.makefile("rb")
def reply():
    out = b""
    while True:
        line = f.readline()
        out += line
        if not line or line[3:4] != b"-":
            return out
reply()
for cmd in (b"EHLO x.test", b"MAIL FROM:<a@sender.test>", b"RCPT TO:<victim@example.test>", b"DATA"):
    s.sendall(cmd + b"\r\n"); r = reply()
assert r.startswith(b"354"), r
print("in DATA", flush=True)
smuggled = (b"MAIL FROM:<admin@example.test>\r\nRCPT TO:<victim@example.test>\r\nDATA\r\n"
            b"From: admin@example.test\r\nSubject: SMUGGLED\r\n\r\nsmuggled body\r\n.\r\n")
s.sendall(b"Subject: carrier\r\n\r\nfirst" + eod + smuggled + b"\r\n.\r\n")
print(repr(sys.argv[1]), reply(), flush=True)
try:
    s.sendall(b"QUIT\r\n"); print(reply())
except OSError:
    pass
PY
done
sed 's/^/  /' "$work/smuggle.out"
check "smuggling: every attempt reached DATA and got a final reply" eq "$smuggle_ok" 6
check "smuggling: six sessions in DATA" eq "$(grep -cx 'in DATA' "$work/smuggle.out")" 6
after=$(ls "$SINK" | grep -c '\.eml$')
check "smuggling: at most one message per attempt" bash -c "(( $after - $before <= 6 ))"
check "smuggling: no message starts with the smuggled header" bash -c \
  "! grep -l '^Subject: SMUGGLED' \$(ls -t '$SINK'/*.eml | head -n $((after - before + 1)) ) 2>/dev/null | xargs -r grep -L 'Subject: carrier' | grep -q ."
check "smuggling: never from the smuggled sender" bash -c "! grep -q 'admin@example.test' '$SINK'/*.env"
lab_down_checked

# --- the I/O thread's ring full: final replies wait for room, never become 4xx, no record lost ---
sed -i 's/^\[gateway\]$/&\nio_ring_size = 2/' "$work/lab.toml"
grep -q '^io_ring_size = 2$' "$work/lab.toml"
sink_stop "$SINK_PID"; SINK_PID=""
txlog_mark
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink_io" 2526
M=400
ip netns exec mxlab timeout 300 smtp-source -s 20 -m "$M" -l 2048 -d -f load@sender.test -t io@example.test -N \
  198.18.0.2:25 >"$work/source_io.out" 2>&1 && rc=0 || rc=$?
check "small I/O ring: smtp-source finished without errors" eq "$rc" 0
for _ in $(seq 1 100); do (( $(ls "$work/sink_io" | grep -c '\.eml$') >= M )) && break; sleep 0.1; done
check "small I/O ring: every message arrived" eq "$(ls "$work/sink_io" | grep -c '\.eml$')" "$M"
check "small I/O ring: one record per message, all 250" eq \
  "$(tail -n +$((TXLOG_START + 1)) "$TXLOG" | grep '"event":"message"' | grep -c '"action":"deliver".*"reply":"250 ')" "$M"
lab_down_checked
check "small I/O ring: requests waited for room" grep -qE '^mxgate: gateway lcore=1 port=lab0 .* io_ring_full=[1-9][0-9]* ' "$LOG"
check "small I/O ring: nothing tempfailed, nothing dropped" grep -qE '^mxgate: gateway lcore=1 port=lab0 .* tempfailed=0 .* io_dropped=0$' "$LOG"
finish
