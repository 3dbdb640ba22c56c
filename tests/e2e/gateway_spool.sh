#!/usr/bin/env bash
# The spool: when the tenant's server is down and the tenant allows spooling, mail is written
# durably (250) and delivered when the server is back — also across SIGKILL and restart; 5xx on
# a retry and expiry bounce with an RFC 3464 DSN to the sender (through the bounce route), never
# to <>; a full disk answers 4xx, never 250, and a DSN that cannot be stored keeps its recipient;
# a recipient deferred after others were accepted is spooled even for a tenant without spool.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
SINK_PID=""; BOUNCE_PID=""; SECOND_PID=""
cleanup() {
  sink_stop "$SINK_PID"; sink_stop "$BOUNCE_PID"; sink_stop "$SECOND_PID"; lab_down_quiet
  if mountpoint -q "$work/tiny"; then umount "$work/tiny"; fi
  rm -rf "$work"
}
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
# Recipients are not checked at RCPT here (verify_recipients = false), so that the server's
# refusals come after the sender's 250 — the path a check cannot always close (a server that
# accepts at the check and refuses later) and the one this test exercises.
sed -i 's/^spool = true .*/&\nverify_recipients = false/' "$work/tenants.toml"
# The second tenant does not spool (spool = false, the default) and does not check either.
sed -i 's/^route_tls = "none"$/&\nverify_recipients = false/' "$work/tenants.toml"
sed -i 's/^spool_retry_min_s = .*/spool_retry_min_s = 1/; s/^spool_retry_max_s = .*/spool_retry_max_s = 2/' "$work/lab.toml"
txlog_mark
SPOOL=$work/spool
SINK=$work/sink
"$LAB" up "$work/lab.toml" >/dev/null
spooled() { ls "$SPOOL" 2>/dev/null | grep -c '\.meta$' || true; }
sw() { ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --helo client.sender.test --timeout 30 "$@" 2>&1 || true; }
wait_for() {  # wait_for SECONDS CMD...
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}

# --- the server is down: spooled, then delivered when it is back ---
out=$(sw --from alice@sender.test --to bob@example.test --header "Subject: while down" --body "spool me")
check "server down: 250 spooled" grep -q '<-  250 2.0.0 Ok: [0-9]* spooled' <<<"$out"
check "server down: one entry in the spool" eq "$(spooled)" 1
check "server down: logged as spooled" bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"action\":\"spool\"'"
sink_start "$SINK" 2526
check "server back: delivered by the runner" wait_for 20 test -f "$SINK/0001.eml"
check "server back: the message" grep -q 'spool me' "$SINK/0001.eml"
check "server back: envelope kept" grep -qx 'MAIL FROM:<alice@sender.test> SIZE=[0-9]*\|MAIL FROM:<alice@sender.test> ' "$SINK/0001.env"
check "server back: spool empty" wait_for 10 bash -c "(( \$(ls '$SPOOL' | grep -c '\\.meta\$') == 0 ))"
check "server back: delivery logged" bash -c "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"event\":\"spool\".*\"result\":\"delivered\"'"

# --- SIGKILL right after the 250 of a spooled message: delivered after the restart ---
sink_stop "$SINK_PID"; SINK_PID=""
out=$(sw --from alice@sender.test --to carol@example.test --header "Subject: survive" --body "kill me not")
check "before the crash: 250 spooled" grep -q '<-  250 2.0.0 Ok: [0-9]* spooled' <<<"$out"
kill -KILL "$(<"$MXLAB_STATE/mxgate.pid")"
lab_down_quiet
check "after the crash: still in the spool" eq "$(spooled)" 1
"$LAB" up "$work/lab.toml" >/dev/null
check "restart: the spool is loaded" grep -q '1 spooled message(s)' "$LOG"
sink_start "$work/sink2" 2526
check "restart: delivered" wait_for 20 test -f "$work/sink2/0001.eml"
check "restart: that message" grep -q 'kill me not' "$work/sink2/0001.eml"
check "restart: delivered once" wait_for 10 bash -c "(( \$(ls '$SPOOL' | grep -c '\\.meta\$') == 0 ))"

# --- 5xx on a retry: a DSN to the sender through the bounce route ---
sink_stop "$SINK_PID"; SINK_PID=""
sink_start "$work/bounces" 2525
BOUNCE_PID=$SINK_PID; SINK_PID=""
out=$(sw --from alice@sender.test --to dave@example.test --header "Subject: will bounce" --body "bounce me")
check "bounce: first spooled" grep -q 'spooled' <<<"$out"
echo permfail >"$work/sink3.mode"  # before the sink starts: the runner may try at once
sink_start "$work/sink3" 2526
check "bounce: DSN delivered to the bounce route" wait_for 20 test -f "$work/bounces/0001.eml"
check "bounce: from the null sender" grep -q '^MAIL FROM:<<>>' "$work/bounces/0001.env"  # aiosmtpd writes <> as "<>"
check "bounce: to the original sender" grep -qx 'RCPT TO:<alice@sender.test>' "$work/bounces/0001.env"
check "bounce: multipart/report" grep -q 'Content-Type: multipart/report; report-type=delivery-status' "$work/bounces/0001.eml"
check "bounce: per-recipient status" grep -q 'Final-Recipient: rfc822; dave@example.test' "$work/bounces/0001.eml"
check "bounce: the downstream's reason" grep -q 'Diagnostic-Code: smtp; 554 5.7.1 downstream refuses this message' "$work/bounces/0001.eml"
check "bounce: the original headers" grep -q 'Subject: will bounce' "$work/bounces/0001.eml"
check "bounce: Python reads the report" /usr/bin/python3 -c "
import email, sys
m = email.message_from_binary_file(open('$work/bounces/0001.eml', 'rb'))
assert m.get_content_type() == 'multipart/report', m.get_content_type()
parts = [p.get_content_type() for p in m.walk()]
assert 'message/delivery-status' in parts, parts
"

# --- some recipients refused downstream after others were accepted: the sender has its 250, so
# the 5xx ones get a DSN and the 4xx ones are spooled and delivered later ---
echo accept >"$work/sink3.mode"
out=$(sw --from alice@sender.test --to bob@example.test,unknown-9@example.test,busy-1@example.test \
        --header "Subject: partly" --body "three recipients")
check "partial: 250 for the sender" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
first=$(grep -l 'three recipients' "$work/sink3"/*.eml | head -1)
check "partial: bob got it at once, alone" bash -c "grep -q 'RCPT TO:<bob@example.test>' '${first%.eml}.env' && (( \$(grep -c '^RCPT TO' '${first%.eml}.env') == 1 ))"
check "partial: a DSN for the refused one" wait_for 20 bash -c "grep -l 'Final-Recipient: rfc822; unknown-9@example.test' '$work/bounces'/*.eml 2>/dev/null | grep -q ."
check "partial: the deferred one is spooled" bash -c "grep -l 'busy-1@example.test' '$SPOOL'/*.meta | grep -q ."
touch "$work/sink3.accept-busy"
check "partial: the deferred one delivered later" wait_for 20 bash -c "grep -h '^RCPT TO:<busy-1@example.test>' '$work/sink3'/*.env | grep -q ."
check "partial: spool empty again" wait_for 10 bash -c "(( \$(ls '$SPOOL' | grep -c '\\.meta\$') == 0 ))"
check "partial: no DSN for the deferred one" bash -c "! grep -l 'Final-Recipient: rfc822; busy-1@example.test' '$work/bounces'/*.eml 2>/dev/null | grep -q ."

# --- the same for a tenant that does not spool (spool = false): a recipient deferred after others
# were accepted is still spooled and retried — the sender has its 250 — never bounced at once ---
keep=$SINK_PID
sink_start "$work/sink5" 2527
SECOND_PID=$SINK_PID; SINK_PID=$keep
out=$(sw --from alice@sender.test --to carol@second.test,busy-2@second.test --header "Subject: no spool" --body "two recipients, no spool")
check "no-spool tenant, partial: 250 for the sender" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "no-spool tenant, partial: carol got it at once" bash -c "grep -l 'two recipients, no spool' '$work/sink5'/*.eml | head -1 | sed 's/eml\$/env/' | xargs grep -q 'RCPT TO:<carol@second.test>'"
check "no-spool tenant, partial: the deferred one is spooled" bash -c "grep -l 'busy-2@second.test' '$SPOOL'/*.meta | grep -q ."
touch "$work/sink5.accept-busy"
check "no-spool tenant, partial: the deferred one delivered later" wait_for 20 bash -c "grep -h '^RCPT TO:<busy-2@second.test>' '$work/sink5'/*.env | grep -q ."
check "no-spool tenant, partial: spool empty again" wait_for 10 bash -c "(( \$(ls '$SPOOL' | grep -c '\\.meta\$') == 0 ))"
check "no-spool tenant, partial: no DSN for the deferred one" bash -c "! grep -l 'Final-Recipient: rfc822; busy-2@second.test' '$work/bounces'/*.eml 2>/dev/null | grep -q ."
sink_stop "$SECOND_PID"; SECOND_PID=""

# --- a null sender is never bounced: spooled while the server is down, then refused by it ---
sink_stop "$SINK_PID"; SINK_PID=""
out=$(sw --from '<>' --to erin@example.test --header "Subject: from nobody" --body "no bounce for me")
check "null sender: spooled" grep -q '<-  250 2.0.0 Ok: [0-9]* spooled' <<<"$out"
echo permfail >"$work/sink3b.mode"
sink_start "$work/sink3b" 2526
check "null sender: refused downstream, DSN suppressed" wait_for 20 bash -c \
  "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"event\":\"dsn\".*suppressed: null sender'"
check "null sender: no DSN sent" eq "$(ls "$work/bounces" | grep -c '\.eml$')" 2

# --- expiry: a DSN with 4.4.7 ---
sink_stop "$SINK_PID"; SINK_PID=""
sink_stop "$BOUNCE_PID"; BOUNCE_PID=""
lab_down_quiet
sed -i 's/^spool_lifetime_s = .*/spool_lifetime_s = 3/' "$work/lab.toml"
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/bounces2" 2525
BOUNCE_PID=$SINK_PID; SINK_PID=""
out=$(sw --from alice@sender.test --to frank@example.test --header "Subject: expires" --body "too late")
check "expiry: spooled" grep -q 'spooled' <<<"$out"
echo tempfail >"$work/sink4.mode"
sink_start "$work/sink4" 2526
check "expiry: DSN after the lifetime" wait_for 30 test -f "$work/bounces2/0001.eml"
check "expiry: status 4.4.7" grep -q 'Status: 4.4.7' "$work/bounces2/0001.eml"
check "expiry: nothing left" wait_for 10 bash -c "(( \$(ls '$SPOOL' | grep -c '\\.meta\$') == 0 ))"
sink_stop "$SINK_PID"; SINK_PID=""
sink_stop "$BOUNCE_PID"; BOUNCE_PID=""
"$LAB" down >/dev/null
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG'"

# --- a full disk: 4xx, never 250 ---
mkdir -p "$work/tiny"
mount -t tmpfs -o size=256k tmpfs "$work/tiny"
sed -i "s|^spool_dir = .*|spool_dir = \"$work/tiny/spool\"|; s|^quarantine_dir = .*|quarantine_dir = \"$work/tiny/q\"|; s|^spool_lifetime_s = .*|spool_lifetime_s = 3600|" "$work/lab.toml"
"$LAB" up "$work/lab.toml" >/dev/null
head -c 600000 /dev/urandom | base64 >"$work/big.txt"
out=$(sw --from alice@sender.test --to bob@example.test --header "Subject: big while down" --body "@$work/big.txt")
check "disk full, spool: 451, not 250" grep -q '<\*\* 451 4.3.0' <<<"$out"
{ printf 'XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\n'; cat "$work/big.txt"; } >"$work/bigspam.txt"
out=$(sw --from alice@sender.test --to quarantine@example.test --header "Subject: big spam" --body "@$work/bigspam.txt")
check "disk full, quarantine: 451, not 250" grep -q '<\*\* 451 4.3.0' <<<"$out"

# --- a full disk when a DSN must be stored: the entry keeps its recipient (no notice is lost),
# and the DSN follows once there is room again ---
out=$(sw --from alice@sender.test --to gina@example.test --header "Subject: bounce on a full disk" --body "no room for the notice")
check "full disk at bounce: spooled" grep -q '<-  250 2.0.0 Ok: [0-9]* spooled' <<<"$out"
dd if=/dev/zero of="$work/tiny/filler" bs=1k 2>/dev/null || true
check "full disk at bounce: the disk is full" bash -c "(( \$(stat -f -c %a '$work/tiny') == 0 ))"
sink_start "$work/bounces3" 2525
BOUNCE_PID=$SINK_PID; SINK_PID=""
echo permfail >"$work/sink6.mode"
sink_start "$work/sink6" 2526
check "full disk at bounce: the DSN could not be stored" wait_for 20 bash -c \
  "tail -n +$((TXLOG_START + 1)) '$TXLOG' | grep -q '\"event\":\"dsn\".*failed to spool'"
check "full disk at bounce: the entry keeps its recipient" bash -c "grep -l 'gina@example.test' '$work/tiny/spool'/*.meta | grep -q ."
check "full disk at bounce: no DSN yet" eq "$(ls "$work/bounces3" | grep -c '\.eml$' || true)" 0
rm -f "$work/tiny/filler"
check "room again: the DSN is delivered" wait_for 20 bash -c "grep -l 'Final-Recipient: rfc822; gina@example.test' '$work/bounces3'/*.eml 2>/dev/null | grep -q ."
check "room again: the spool is empty" wait_for 10 bash -c "(( \$(ls '$work/tiny/spool' | grep -c '\\.meta\$') == 0 ))"
check "room again: one DSN" eq "$(ls "$work/bounces3" | grep -c '\.eml$')" 1
sink_stop "$SINK_PID"; SINK_PID=""
sink_stop "$BOUNCE_PID"; BOUNCE_PID=""
lab_down_checked
check "disk full: no partial file left as an entry" eq "$(ls "$work/tiny/spool" | grep -c '\.meta$' || true)" 0
finish
