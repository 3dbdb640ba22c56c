#!/usr/bin/env bash
# The client engine delivers to real servers on loopback: Postfix's smtp-sink (with and without
# PIPELINING, 4xx/5xx on demand, a disconnect right after the final dot) and aiosmtpd
# (byte-exact delivery, STARTTLS with certificate verification, SMTPUTF8).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
SEND=${SMTP_RELAY_SEND:?}
work=$(mktemp -d)
chmod 755 "$work"  # smtp-sink writes its dumps as nobody
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
sink() {  # sink NAME OPTIONS... -> starts smtp-sink, sets $port
  port=$(free_port)
  mkdir -p "$work/$1"; chown nobody "$work/$1"
  smtp-sink -u nobody -d "$work/$1/%M." "${@:2}" 127.0.0.1:"$port" 10 >/dev/null 2>&1 &
  pids+=($!)
  wait_port "$port"
}
printf 'Subject: relay test\r\n\r\nline one\r\n.starts with a dot\r\n.\r\nlast\r\n' >"$work/msg.txt"
send() { "$SEND" --port "$port" --from alice@example.net --body "$work/msg.txt" "$@" 2>&1 || true; }

sink plain
out=$(send --to bob@example.test,carol@example.test)
check "smtp-sink: delivered ($out)" grep -q 'outcome=delivered reply=250' <<<"$out"
check "smtp-sink: both recipients accepted" grep -q 'rcpt=250,250' <<<"$out"
dump=$(cat "$work"/plain/* 2>/dev/null)
check "smtp-sink: dot lines arrive unstuffed" grep -q $'^\\.starts with a dot\r\\?$' <<<"$dump"
check "smtp-sink: a lone-dot line arrives as content" grep -q $'^\\.\r\\?$' <<<"$dump"
check "smtp-sink: both envelope recipients" eq "$(grep -c 'X-Rcpt-Args: <' <<<"$dump")" 2

out=$(send --to bob@example.test --no-pipelining)
check "smtp-sink without pipelining: delivered" grep -q 'outcome=delivered' <<<"$out"

sink soft -r rcpt
out=$(send --to bob@example.test)
check "smtp-sink 4xx to RCPT: temporary failure at rcpt" grep -q 'outcome=tempfail reply=4[0-9][0-9] stage=rcpt' <<<"$out"
sink hard -f mail
out=$(send --to bob@example.test)
check "smtp-sink 5xx to MAIL: permanent failure at mail" grep -q 'outcome=permfail reply=5[0-9][0-9] stage=mail' <<<"$out"
sink hard_dot -f .
out=$(send --to bob@example.test)
check "smtp-sink 5xx after the dot: permanent failure at body" grep -q 'outcome=permfail reply=5[0-9][0-9] stage=body' <<<"$out"
sink drop -q .
out=$(send --to bob@example.test)
check "smtp-sink drops after the dot: temporary failure (kept, never lost)" grep -q 'outcome=tempfail reply=451 stage=body' <<<"$out"

# aiosmtpd, plain and with STARTTLS
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj /CN=mx.peer.test \
  -addext "subjectAltName=DNS:mx.peer.test" -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
start_aiosmtpd() {  # NAME ARGS...
  port=$(free_port)
  mkdir -p "$work/$1"
  /usr/bin/python3 "$(dirname "$0")/aiosmtpd_peer.py" "$work/$1" "$port" "${@:2}" >"$work/$1.log" 2>&1 &
  pids+=($!)
  wait_port "$port"
}
start_aiosmtpd ai
out=$(send --to bob@example.test)
check "aiosmtpd: delivered" grep -q 'outcome=delivered' <<<"$out"
check "aiosmtpd: bytes identical" cmp -s "$work/msg.txt" "$work/ai/0001.eml"
printf 'Subject: caf\xc3\xa9\r\n\r\nna\xc3\xafve\r\n' >"$work/utf8.txt"
out=$("$SEND" --port "$port" --from "jörg@example.net" --to "ünïcode@example.test" --smtputf8 --body "$work/utf8.txt" 2>&1 || true)
check "aiosmtpd: SMTPUTF8 + 8-bit delivered" grep -q 'outcome=delivered' <<<"$out"
check "aiosmtpd: SMTPUTF8 envelope" grep -q 'MAIL FROM:<jörg@example.net>.*SMTPUTF8' "$work/ai/0002.env"

start_aiosmtpd tls "$work/cert.pem" "$work/key.pem" require-tls
out=$(send --to bob@example.test --tls verify --ca "$work/cert.pem" --server-name mx.peer.test)
check "aiosmtpd STARTTLS, certificate verified: delivered over TLS ($out)" grep -q 'outcome=delivered.*tls=TLSv1.3' <<<"$out"
check "aiosmtpd saw TLS" grep -q 'TLS TLSv1.3' "$work/tls/0001.env"
out=$(send --to bob@example.test --tls verify --server-name wrong.name.test --ca "$work/cert.pem")
check "certificate name mismatch: temporary failure at tls, nothing sent" grep -q 'outcome=tempfail.*stage=tls' <<<"$out"
check "nothing delivered after the mismatch" eq "$(ls "$work/tls" | grep -c eml)" 1
finish
