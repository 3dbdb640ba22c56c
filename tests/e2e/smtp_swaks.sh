#!/usr/bin/env bash
# Interop: swaks (a real SMTP client) against the server engine on a loopback socket (through
# the test-only adapter): plain, pipelining, an attachment, dot lines, refusals.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SERVER=${SMTP_LOOPBACK_SERVER:?}
work=$(mktemp -d)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=mx.loopback.test \
  -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
"$SERVER" --spool "$work" --port 0 --cert "$work/cert.pem" --key "$work/key.pem" >"$work/server.out" 2>&1 &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 50); do grep -q listening "$work/server.out" && break; sleep 0.1; done
port=$(sed -n 's/^listening 127.0.0.1:\([0-9]*\)$/\1/p' "$work/server.out")
[[ -n $port ]] || { cat "$work/server.out"; exit 1; }
sw() { swaks --server 127.0.0.1 --port "$port" --helo client.example.net --from alice@example.net --timeout 20 "$@"; }
count() { ls "$work"/*.eml 2>/dev/null | wc -l; }

out=$(sw --to bob@example.test --header "Subject: plain" --body "hello from swaks" 2>&1) && rc=0 || rc=$?
check "plain: swaks succeeds" eq "$rc" 0
check "plain: 250 queued" grep -q '<-  250 2.0.0 Ok: queued as 0001' <<<"$out"
check "plain: message stored" grep -q 'hello from swaks' "$work/0001.eml"
check "plain: envelope stored" grep -qx 'RCPT TO:<bob@example.test>' "$work/0001.env"

out=$(sw --pipeline --to bob@example.test,unknown-zed@example.test,carol@example.test --body "pipelined" 2>&1) && rc=0 || rc=$?
check "pipelining: swaks used PIPELINING" grep -q 'PIPELINING' <<<"$out"
check "pipelining: one recipient refused" grep -q '550 5.1.1 no such user' <<<"$out"
check "pipelining: delivered to the two others" eq "$(grep -c '^RCPT TO' "$work/0002.env")" 2

head -c 200000 /dev/urandom >"$work/blob.bin"
out=$(sw --to bob@example.test --attach "@$work/blob.bin" --attach-type application/octet-stream 2>&1) && rc=0 || rc=$?
check "attachment: swaks succeeds" eq "$rc" 0
got=$(/usr/bin/python3 - "$work/0003.eml" <<'PY'
import email, hashlib, sys
msg = email.message_from_binary_file(open(sys.argv[1], 'rb'))
for part in msg.walk():
    if part.get_content_type() == 'application/octet-stream':
        print(hashlib.sha256(part.get_payload(decode=True)).hexdigest())
PY
)
check "attachment: decoded bytes identical (SHA-256)" eq "$got" "$(sha256sum "$work/blob.bin" | cut -d' ' -f1)"

printf 'line one\n.leading dot\n..two dots\n.\nafter a lone dot\n' >"$work/dots.txt"
out=$(sw --to bob@example.test --body "@$work/dots.txt" 2>&1) && rc=0 || rc=$?
check "dot lines: accepted" eq "$rc" 0
check "dot lines: unstuffed exactly" grep -q $'^\\.leading dot\r$' "$work/0004.eml"
check "dot lines: a lone dot line survives" grep -q $'^\\.\r$' "$work/0004.eml"
check "dot lines: text after it kept" grep -q 'after a lone dot' "$work/0004.eml"

out=$(sw --to someone@other.example 2>&1) && rc=0 || rc=$?
check "relay: refused (swaks fails)" bash -c "(( $rc != 0 ))"
check "relay: 550 5.7.1" grep -q '550 5.7.1' <<<"$out"
check "relay: nothing stored" eq "$(count)" 4

out=$(sw --tls --to bob@example.test --header "Subject: over tls" --body "secret" 2>&1) && rc=0 || rc=$?
check "STARTTLS: swaks --tls succeeds" eq "$rc" 0
check "STARTTLS: handshake done" grep -q 'TLS started' <<<"$out"
check "STARTTLS: message stored" grep -q 'secret' "$work/0005.eml"
check "STARTTLS: TLS recorded (protocol, SNI-less, fingerprint)" grep -qE '^TLS TLSv1\.[23] [A-Z0-9_-]+ sni= ja3=[0-9a-f]{32}$' "$work/0005.env"

out=$(sw --to bob@example.test --quit-after RCPT 2>&1) && rc=0 || rc=$?
check "quit after RCPT: clean" eq "$rc" 0
check "quit after RCPT: nothing stored" eq "$(count)" 5
finish
