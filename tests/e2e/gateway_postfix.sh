#!/usr/bin/env bash
# A real MTA as the sender: a private Postfix in the lab relays to mxgate as a customer's
# internet peer would, with STARTTLS required (smtp_tls_security_level = encrypt). Clean mail
# arrives at the tenant's server, spam arrives tagged, a virus is refused with 554 and Postfix
# bounces it; every message is in mxgate's log with its TLS details.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/postfix_lab.sh"
work=$(mktemp -d)
SINK_PID=""
cleanup() { postfix_lab_stop "$work/pf"; sink_stop "$SINK_PID"; lab_down_quiet; rm -rf "$work"; }
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
txlog_mark
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink" 2526
postfix_lab_start "$work/pf" 198.18.0.1:2600 '[198.18.0.2]:25' encrypt
N=50
ip netns exec mxlab timeout 120 smtp-source -s 5 -m $N -l 2000 -f peer@sender.test -t rcpt@example.test -N \
  198.18.0.1:2600 >/dev/null 2>&1 && rc=0 || rc=$?
check "smtp-source into Postfix" eq "$rc" 0
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'
ip netns exec mxlab swaks --server 198.18.0.1 --port 2600 --from peer@sender.test --to bob@example.test \
  --header "Subject: spam via postfix" --body "$GTUBE" >/dev/null 2>&1
ip netns exec mxlab swaks --server 198.18.0.1 --port 2600 --from peer@sender.test --to bob@example.test \
  --header "Subject: virus via postfix" --body "$EICAR" >/dev/null 2>&1
want=$((N + 1))
for _ in $(seq 1 300); do (( $(ls "$work/sink" | grep -c '\.eml$') >= want )) && break; sleep 0.1; done
for _ in $(seq 1 100); do grep -q 'status=bounced' "$work/pf/maillog" 2>/dev/null && break; sleep 0.1; done
check "all clean messages and the tagged spam arrived" eq "$(ls "$work/sink" | grep -c '\.eml$')" "$want"
check "Postfix used TLS to mxgate" grep -q 'TLS connection established to 198.18.0.2\[198.18.0.2\]:25: TLSv1.3' "$work/pf/maillog"
check "Postfix: sent through mxgate" eq "$(grep -c 'relay=198.18.0.2\[198.18.0.2\]:25.*status=sent (250 2.0.0 Ok: [0-9]* delivered' "$work/pf/maillog")" "$want"
check "Postfix: the virus bounced with mxgate's 554" grep -q 'status=bounced (host 198.18.0.2\[198.18.0.2\] said: 554 5.7.1 message rejected: malware found' "$work/pf/maillog"
check "spam tagged" bash -c "grep -l '^Subject: \[SPAM\] spam via postfix' '$work/sink'/*.eml | grep -q ."
check "each recipient once" eq "$(cat "$work/sink"/*.env | grep '^RCPT TO' | sort -u | wc -l)" "$want"
check "log: TLS and Postfix's HELO on every record" eq \
  "$(tail -n +$((TXLOG_START + 1)) "$TXLOG" | grep '"event":"message"' | grep '"helo":"postfix.lab.test","tls":{"protocol":"TLSv1.3"' | wc -l)" "$((want + 1))"
lab_down_checked
finish
