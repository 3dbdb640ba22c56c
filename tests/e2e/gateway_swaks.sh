#!/usr/bin/env bash
# The gateway end to end in the lab with real peers: swaks (plain, STARTTLS, pipelining, an
# attachment) and Python's smtplib send to mxgate on 198.18.0.2:25; aiosmtpd on 198.18.0.1:2526
# is the tenant's server. Every verdict class and action, the open-relay refusals, a route that
# is down, a snapshot reload by SIGHUP, and one valid JSON log record per message.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
SINK_PID=""
cleanup() { sink_stop "$SINK_PID"; lab_down_quiet; rm -rf "$work"; }
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
txlog_mark
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink" 2526
SINK=$work/sink
count() { ls "$SINK"/*.eml 2>/dev/null | wc -l; }
sw() { ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --helo client.sender.test --from alice@sender.test \
         --timeout 30 "$@" 2>&1 || true; }
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
sent=0  # transactions that reach end of data (each has a log record)

# --- clean mail is relayed before 250 ---
out=$(sw --to bob@example.test --header "Subject: clean one" --body "hello tenant"); sent=$((sent + 1))
check "clean: 250 delivered" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered to example (250)' <<<"$out"
check "clean: at the tenant's server" grep -q 'hello tenant' "$SINK/0001.eml"
check "clean: envelope kept" grep -qx 'RCPT TO:<bob@example.test>' "$SINK/0001.env"
check "clean: no header added" bash -c "! grep -q '^X-Mxgate' '$SINK/0001.eml'"

# --- STARTTLS ---
out=$(sw --tls --to bob@example.test --header "Subject: over tls" --body "secret words"); sent=$((sent + 1))
check "STARTTLS: handshake" grep -q 'TLS started' <<<"$out"
check "STARTTLS: delivered" grep -q '<~  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "STARTTLS: relayed" grep -q 'secret words' "$SINK/0002.eml"

# --- pipelining, two recipients of one policy ---
out=$(sw --pipeline --to bob@example.test,carol@example.test --body "pipelined"); sent=$((sent + 1))
check "pipelining: offered and used" grep -q 'PIPELINING' <<<"$out"
check "pipelining: both recipients downstream" eq "$(grep -c '^RCPT TO' "$SINK/0003.env")" 2

# --- an attachment, byte for byte ---
head -c 300000 /dev/urandom >"$work/blob.bin"
out=$(sw --to bob@example.test --attach "@$work/blob.bin" --attach-type application/octet-stream); sent=$((sent + 1))
check "attachment: delivered" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
got=$(/usr/bin/python3 - "$SINK/0004.eml" <<'PY'
import email, hashlib, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'))
for part in msg.walk():
    if part.get_content_type() == 'application/octet-stream':
        print(hashlib.sha256(part.get_payload(decode=True)).hexdigest())
PY
)
check "attachment: identical bytes (SHA-256)" eq "$got" "$(sha256sum "$work/blob.bin" | cut -d' ' -f1)"

# --- exact bytes with dot lines, 8-bit and a long line, from smtplib ---
/usr/bin/python3 - "$work/exact.eml" <<'PY'
import random, sys
random.seed(7)
lines = [b"From: a@sender.test", b"To: bob@example.test", b"Subject: exact", b"MIME-Version: 1.0",
         b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: 8bit", b""]
lines += [b".leading dot", b"..two", b".", b"caf\xc3\xa9", b"x" * 990]
lines += [bytes(random.choice(b"abc .-") for _ in range(random.randint(0, 200))) for _ in range(400)]
open(sys.argv[1], "wb").write(b"\r\n".join(lines) + b"\r\n")
PY
ip netns exec mxlab /usr/bin/python3 - "$work/exact.eml" <<'PY' && rc=0 || rc=$?
import smtplib, sys
data = open(sys.argv[1], "rb").read()
s = smtplib.SMTP("198.18.0.2", 25, timeout=30)
s.ehlo("client.sender.test")
s.sendmail("a@sender.test", ["bob@example.test"], data, mail_options=["BODY=8BITMIME"])
s.quit()
PY
sent=$((sent + 1))
check "smtplib: accepted" eq "$rc" 0
check "smtplib: relayed byte for byte" cmp -s "$work/exact.eml" "$SINK/0005.eml"

# --- CHUNKING: BDAT chunks from a raw client arrive as one message, byte for byte ---
ip netns exec mxlab /usr/bin/python3 - "$work/bdat.eml" >"$work/bdat.out" 2>&1 <<'PY' && rc=0 || rc=$?
import socket, sys
msg = b"From: a@sender.test\r\nTo: bob@example.test\r\nSubject: chunked\r\n\r\n" + b"".join(
    b"chunk line %04d .dot\r\n" % i for i in range(300))
open(sys.argv[1], "wb").write(msg)
s = socket.create_connection(("198.18.0.2", 25), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line or line[3:4] != b"-":
            return line
reply()
for cmd in (b"EHLO x.test", b"MAIL FROM:<a@sender.test>", b"RCPT TO:<bob@example.test>"):
    s.sendall(cmd + b"\r\n"); reply()
cut = [0, 1000, 5000, len(msg)]
for i in range(3):
    part = msg[cut[i]:cut[i + 1]]
    last = b" LAST" if i == 2 else b""
    s.sendall(b"BDAT %d%s\r\n" % (len(part), last) + part)
    r = reply()
print(r.decode().strip())
s.sendall(b"QUIT\r\n"); reply()
PY
sent=$((sent + 1))
check "BDAT: delivered" grep -q '^250 2.0.0 Ok: [0-9]* delivered' "$work/bdat.out"
check "BDAT: byte for byte" cmp -s "$work/bdat.eml" "$SINK/0006.eml"

# --- spam (GTUBE): the tenant tags it ---
out=$(sw --to bob@example.test --header "Subject: buy now" --body "$GTUBE"); sent=$((sent + 1))
check "spam: delivered tagged" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "spam: subject prefixed" grep -q '^Subject: \[SPAM\] buy now' "$SINK/0007.eml"
check "spam: verdict headers at the top" bash -c "head -1 '$SINK/0007.eml' | grep -q '^X-Mxgate-Verdict: spam'"
check "spam: rules header" grep -q '^X-Mxgate-Rules: GTUBE' "$SINK/0007.eml"

# --- spam for a user who quarantines it ---
qbefore=$(find "$GWDIR/quarantine" -name "*.eml" 2>/dev/null | wc -l)
out=$(sw --to quarantine@example.test --header "Subject: q me" --body "$GTUBE"); sent=$((sent + 1))
check "user policy: quarantined" grep -q '<-  250 2.0.0 Ok: [0-9]* quarantined' <<<"$out"
qid=$(sed -n 's/.*250 2.0.0 Ok: \([0-9]*\) quarantined.*/\1/p' <<<"$out" | head -1)
check "quarantine: message stored" grep -q 'GTUBE-STANDARD' "$GWDIR/quarantine/$qid.eml"
check "quarantine: envelope and verdict stored" grep -q '"class":"spam"' "$GWDIR/quarantine/$qid.json"
check "quarantine: nothing relayed" eq "$(count)" 7

# --- phish (a tenant rule with category phish): quarantined ---
out=$(sw --to bob@example.test --header "Subject: MXGATE-PHISH-TEST verify your account" --body "click"); sent=$((sent + 1))
check "phish: quarantined" grep -q '<-  250 2.0.0 Ok: [0-9]* quarantined' <<<"$out"
check "phish + quarantine: one more file" eq "$(ls "$GWDIR/quarantine"/*.eml | wc -l)" "$((qbefore + 2))"

# --- malware: rejected, never relayed ---
printf '%s' "$EICAR" >"$work/eicar.com"
(cd "$work" && zip -q eicar.zip eicar.com)
out=$(sw --to bob@example.test --header "Subject: zipped" --attach "@$work/eicar.zip"); sent=$((sent + 1))
check "malware in a zip: 554" grep -q '<\*\* 554 5.7.1 message rejected: malware found (Mx.Lab.Eicar' <<<"$out"
out=$(sw --to bob@example.test --header "Subject: plain eicar" --body "$EICAR"); sent=$((sent + 1))
check "malware in the body: 554" grep -q '<\*\* 554 5.7.1' <<<"$out"
check "malware: nothing relayed" eq "$(count)" 7

# --- bulk (a tenant rule with category bulk): tagged ---
out=$(sw --to bob@example.test --header "Subject: MXGATE-BULK-TEST newsletter" --body "weekly news"); sent=$((sent + 1))
check "bulk: delivered tagged" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "bulk: verdict header" bash -c "grep -l '^X-Mxgate-Verdict: bulk' '$SINK'/*.eml | grep -q ."

# --- unscannable (an encrypted zip): quarantined, never delivered ---
printf 'secret contents' >"$work/secret.txt"
(cd "$work" && zip -q -P hunter2 enc.zip secret.txt)
out=$(sw --to bob@example.test --header "Subject: locked" --attach "@$work/enc.zip"); sent=$((sent + 1))
check "unscannable: quarantined" grep -q '<-  250 2.0.0 Ok: [0-9]* quarantined' <<<"$out"
check "unscannable: logged with its class" bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"class\":\"unscannable\".*\"action\":\"quarantine\"'"

# --- a user whose spam is deferred (tempfail) ---
out=$(sw --to later@example.test --header "Subject: not now" --body "$GTUBE"); sent=$((sent + 1))
check "tempfail action: 451 4.7.1" grep -q '<\*\* 451 4.7.1' <<<"$out"

# --- a blocked sender domain: rejected ---
out=$(sw --from someone@blocked.example --to bob@example.test --body "hi"); sent=$((sent + 1))
check "block list: 550" grep -q '<\*\* 550 5.7.1 message rejected by policy' <<<"$out"

# --- never an open relay ---
for rcpt in 'bob@other.test' 'bob@sub.example.test' 'bob@example.test.other.test' 'bob%other.test@example.test' \
            'other.test!bob@example.test' '@example.test:bob@other.test' 'bob@[198.18.0.1]' 'postmaster@[198.18.0.2]'; do
  out=$(sw --to "$rcpt" --body "relay?")
  check "relay refused: <$rcpt>" grep -qE '<\*\* 5[0-9][0-9] ' <<<"$out"
done
out=$(ip netns exec mxlab /usr/bin/python3 - <<'PY'
import smtplib
s = smtplib.SMTP("198.18.0.2", 25, timeout=30)
s.ehlo("x.test")
print(s.docmd("MAIL FROM:<a@sender.test>"))
print(s.docmd("RCPT TO:<@example.test:bob@other.test>"))
print(s.docmd("RCPT TO:<\"bob@other.test\"@example.test>"))
print(s.docmd("RCPT TO:<bob@other.test>"))
print(s.docmd("DATA"))
s.close()
PY
)
check "relay refused: source route" grep -q "^(550, b.5.7.1" <<<"$(sed -n 2p <<<"$out")"
check "relay refused: quoted @ in the local part" grep -q "^(550" <<<"$(sed -n 3p <<<"$out")"
check "relay refused: no recipient, so no DATA" grep -q "^(554\|^(503" <<<"$(sed -n 5p <<<"$out")"
check "relay: nothing relayed" eq "$(count)" 8
check "relay: refusals logged" ge "$(txlog | grep -c '"event":"refused","stage":"rcpt"')" 8

# --- refusals by the SMTP engine are logged too ---
out=$(ip netns exec mxlab /usr/bin/python3 - <<'PY'
import smtplib
s = smtplib.SMTP("198.18.0.2", 25, timeout=30)
print(s.docmd("FROBNICATE"))
print(s.docmd("MAIL FROM:<broken"))
s.quit()
PY
)
check "engine refusal: 500/501 to the client" grep -q "^(50[01]" <<<"$out"
check "engine refusal: logged" bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"event\":\"refused\",\"stage\":\"smtp\"'"

# --- a snapshot swap does not disturb a session in flight ---
ip netns exec mxlab /usr/bin/python3 - "$work/tenants.toml" "$MXLAB_STATE/mxgate.pid" >"$work/swap.out" 2>&1 <<'PY' || true
import os, signal, smtplib, sys, time
s = smtplib.SMTP("198.18.0.2", 25, timeout=30)
s.ehlo("swap.test")
print(s.docmd("MAIL FROM:<a@sender.test>"))
print(s.docmd("RCPT TO:<swap@example.test>"))
# The new snapshot moves example.test to another route; this session keeps its generation.
text = open(sys.argv[1]).read().replace('route = "198.18.0.1:2526"', 'route = "198.18.0.1:2599"', 1)
open(sys.argv[1], "w").write(text)
os.kill(int(open(sys.argv[2]).read()), signal.SIGHUP)
time.sleep(1.0)
print(s.docmd("DATA"))
s.send(b"Subject: across a swap\r\n\r\nstill the old route\r\n.\r\n")
print(s.getreply())
s.quit()
PY
check "swap: the session in flight completed on its snapshot" grep -q "^(250, b'2.0.0 Ok: [0-9]* delivered to example" "$work/swap.out"
check "swap: the new snapshot is live" grep -q 'tenant snapshot generation 2 loaded' "$LOG"
sed -i 's/route = "198.18.0.1:2599"/route = "198.18.0.1:2526"/' "$work/tenants.toml"
"$LAB" reload
for _ in $(seq 1 50); do grep -q 'snapshot generation 3 loaded' "$LOG" && break; sleep 0.1; done
sent=$((sent + 1))

# --- one policy per transaction ---
out=$(sw --to bob@example.test,quarantine@example.test --body "split"); sent=$((sent + 1))
check "policy split: 452 for the second policy" grep -q '<\*\* 452 4.5.3' <<<"$out"
check "policy split: first recipient delivered alone" eq "$(grep -c '^RCPT TO' "$SINK/0010.env")" 1

# --- a route that is down (tenant "second" does not allow spooling; nothing on :2527) ---
out=$(sw --to x@second.test --body "to a dead route"); sent=$((sent + 1))
check "route down: 451 4.4.1" grep -q '<\*\* 451 4.4.1' <<<"$out"

# --- SIGHUP: a new snapshot; a bad one is refused and the old one kept ---
sed -i 's/domains = \["second.test"\]/domains = ["second.test", "third.test"]/' "$work/tenants.toml"
sed -i 's/route = "198.18.0.1:2527"/route = "198.18.0.1:2526"/' "$work/tenants.toml"
"$LAB" reload
for _ in $(seq 1 50); do grep -q 'snapshot generation 4 loaded' "$LOG" && break; sleep 0.1; done
check "reload: generation 4 loaded" grep -q 'tenant snapshot generation 4 loaded (2 tenant(s), 2 user(s))' "$LOG"
out=$(sw --to y@third.test --body "new domain"); sent=$((sent + 1))
check "reload: new domain accepted and delivered" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered to second' <<<"$out"
echo 'garbage = [' >>"$work/tenants.toml"
"$LAB" reload
for _ in $(seq 1 50); do grep -q 'reload refused' "$LOG" && break; sleep 0.1; done
check "reload: a bad file is refused" grep -q 'reload refused, keeping generation 4' "$LOG"
out=$(sw --to y@third.test --body "still there"); sent=$((sent + 1))
check "reload: the running snapshot still serves" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"

# --- the transaction log: one valid JSON record per message ---
check "log: one record per message" eq "$(txlog | grep -c '"event":"message"')" "$sent"
check "log: every line is JSON with the fields" /usr/bin/python3 - <(txlog) <<'PY'
import json, sys
need = {"time", "tenant", "client_ip", "client_port", "helo", "tls", "mail_from", "rcpts", "message_id", "subject",
        "size", "class", "score", "rules", "action", "reply", "data_ms", "scan_cpu_us", "session_ms"}
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    if r["event"] == "message":
        missing = need - r.keys()
        assert not missing, (missing, r)
PY
check "log: TLS details recorded" bash -c "txlog() { tail -n +$((TXLOG_START + 1)) '$TXLOG'; }; txlog | grep -q '\"tls\":{\"protocol\":\"TLSv1.3\"'"
check "log: malware class and signature" bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"class\":\"malware\".*\"av\":\\[\"Mx.Lab.Eicar'"
check "log: downstream reply recorded" bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"downstream\":\"250 2.0.0 stored as 0001\"'"

sink_stop "$SINK_PID"; SINK_PID=""
"$LAB" down >/dev/null
check "counters: delivered" grep -qE '^mxgate: gateway lcore=1 port=lab0 .* delivered=12 ' "$LOG"
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG'"
finish
