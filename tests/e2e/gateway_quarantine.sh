#!/usr/bin/env bash
# Quarantine: messages the policy quarantines are stored durably (message, envelope, verdict),
# listed, shown, released to the tenant's server through the spool, and deleted, with
# mxgate-quarantine; bad ids are clear errors.
source "$(dirname "$0")/lib.sh"
QTOOL=${MXGATE_QUARANTINE:-$(dirname "$MXGATE")/mxgate-quarantine}
work=$(mktemp -d)
SINK_PID=""
cleanup() { sink_stop "$SINK_PID"; lab_down_quiet; rm -rf "$work"; }
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
sed -i "s|^quarantine_dir = .*|quarantine_dir = \"$work/quarantine\"|" "$work/lab.toml"
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink" 2526
q() { "$QTOOL" --config "$work/lab.toml" "$@"; }
sw() { ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --helo client.sender.test --from alice@sender.test \
         --timeout 30 "$@" 2>&1 || true; }
GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'

out=$(sw --to quarantine@example.test --header "Subject: first held" --body "$GTUBE")
id1=$(sed -n 's/.*250 2.0.0 Ok: \([0-9]*\) quarantined.*/\1/p' <<<"$out" | head -1)
out=$(sw --to bob@example.test --header "Subject: MXGATE-PHISH-TEST second held" --body "phish")
id2=$(sed -n 's/.*250 2.0.0 Ok: \([0-9]*\) quarantined.*/\1/p' <<<"$out" | head -1)
check "two messages quarantined" bash -c "[[ -n '$id1' && -n '$id2' ]]"
check "stored: message, verdict, envelope" bash -c "for e in eml json meta; do test -s '$work/quarantine/$id1.'\$e || exit 1; done"
out=$(q list)
check "list: both, with class" bash -c "grep -q '^$id1 .*example .*spam' <<<\"\$1\" && grep -q '^$id2 .*phish' <<<\"\$1\"" _ "$out"
check "list: count" grep -q '^2 message(s)$' <<<"$out"
check "list --tenant filters" grep -q '^0 message(s)$' <<<"$(q list --tenant second)"
check "show: verdict and message" bash -c "q() { '$QTOOL' --config '$work/lab.toml' \"\$@\"; }; q show $id1 | grep -q 'Subject: first held'"
check "nothing delivered yet" eq "$(ls "$work/sink" | grep -c '\.eml$')" 0

out=$(q release "$id1")
check "release: reported" grep -q "^released $id1 to the spool (example -> 198.18.0.1:2526)" <<<"$out"
for _ in $(seq 1 100); do [[ -f $work/sink/0001.eml ]] && break; sleep 0.1; done
check "release: delivered to the tenant's server" grep -q 'Subject: first held' "$work/sink/0001.eml"
check "release: original recipient" grep -qx 'RCPT TO:<quarantine@example.test>' "$work/sink/0001.env"
check "release: gone from the quarantine" bash -c "! '$QTOOL' --config '$work/lab.toml' list | grep -q '^$id1 '"
out=$(q delete "$id2")
check "delete: done" grep -q "^deleted $id2" <<<"$out"
check "delete: nothing left" grep -q '^0 message(s)$' <<<"$(q list)"
rc=0; q release 12345 2>"$work/err" || rc=$?
check "release of an unknown id: exit 1" eq "$rc" 1
check "release of an unknown id: says so" grep -q 'no quarantined message 12345' "$work/err"
rc=0; q release ../etc 2>"$work/err" || rc=$?
check "a path as id: exit 2" eq "$rc" 2
rc=0; q frobnicate 1 2>/dev/null || rc=$?
check "unknown command: usage, exit 2" eq "$rc" 2
lab_down_checked
finish
