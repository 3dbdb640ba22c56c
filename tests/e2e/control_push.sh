#!/usr/bin/env bash
# mxgate-control and mxgatectl with the real data plane in the lab: a tenant added with
# `mxgatectl import` receives mail within a second, without a restart; a bad rule file is
# refused with its line and changes nothing; a snapshot a node cannot keep is refused by that
# node (NACK with the reason) and it keeps serving; with control killed mail keeps flowing, and a
# data plane restarted meanwhile serves its last pushed generation; control back, the node
# reconnects; a rollback is a new generation. The policy as objects: `tenant add`, `domain add`,
# `route set`, `commit` and mail flows; tenant-scoped tokens. The CLI's --json, --help and exit
# codes, its bash completion and man page.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
SINK_PID=""; CTL_PID=""; SINK3_PID=""; SINK4_PID=""
CTL=${MXGATE_CONTROL:-$ROOT/build/control/mxgate-control}
CLI=${MXGATECTL:-$ROOT/build/control/mxgatectl}
cleanup() {
  sink_stop "$SINK_PID"; sink_stop "$SINK3_PID"; sink_stop "$SINK4_PID"; lab_down_quiet
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
ctl_start() {
  "$CTL" --store "$work/control.db" --node-socket "$work/control.sock" --api-socket "$work/api.sock" \
    >>"$work/control.log" 2>&1 &
  CTL_PID=$!
  for _ in $(seq 1 50); do [[ -S $work/api.sock ]] && "$CLI" status >/dev/null 2>&1 && return 0; sleep 0.1; done
  cat "$work/control.log"; return 1
}
sw() { ip netns exec mxlab swaks --server 198.18.0.2 --port 25 --helo client.sender.test --timeout 20 "$@" 2>&1 || true; }
wait_for() {  # wait_for SECONDS CMD...
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
node_field() {  # node_field FIELD: lab-1's FIELD from `mxgatectl --json node list`
  "$CLI" --json node list | /usr/bin/python3 -c "import json,sys; print([n for n in json.load(sys.stdin) if n['name']=='lab-1'][0]['$1'])"
}

# --- the CLI on its own ---
check "cli: --help exits 0" "$CLI" --help
rc=0; "$CLI" frobnicate >/dev/null 2>&1 || rc=$?
check "cli: unknown command exits 2" eq "$rc" 2
rc=0; "$CLI" --socket "$work/none.sock" status >/dev/null 2>&1 || rc=$?
check "cli: no control exits 3" eq "$rc" 3
rc=0; "$CTL" --bogus >/dev/null 2>&1 || rc=$?
check "control: unknown argument exits 2" eq "$rc" 2

ctl_start
check "control: status before any commit" eq "$("$CLI" --json status | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["generation"])')" 0

# --- the data plane connects, serving its own file (generation 0) ---
txlog_mark
"$LAB" up "$work/lab.toml" >/dev/null
sink_start "$work/sink" 2526
check "node: connected" wait_for 10 bash -c "[[ \$('$CLI' --json node list | grep -c '\"state\":\"connected\"') == 1 ]]"
out=$(sw --from alice@sender.test --to x@third.test --header "Subject: too early")
check "before: third.test is nobody's (550)" grep -q '<\*\* 550' <<<"$out"

# --- a new tenant through mxgatectl import: mail flows without a restart ---
cp "$work/tenants.toml" "$work/t2.toml"
cat >>"$work/t2.toml" <<'EOF'

[[tenant]]
name = "third"
domains = ["third.test"]
route = "198.18.0.1:2528"
route_tls = "none"
verify_recipients = false
EOF
keep=$SINK_PID  # the 2526 sink stays until the restart below
sink_start "$work/sink3" 2528
SINK3_PID=$SINK_PID; SINK_PID=$keep
start=$(date +%s%N)
# The import happens while a session is in the middle of a transaction (MAIL given): that session
# keeps the generation it started with, so its RCPT for the new domain is still refused.
ip netns exec mxlab /usr/bin/python3 - "$CLI" "$work/t2.toml" >"$work/inflight.out" 2>&1 <<'PY' || true
import smtplib, subprocess, sys
s = smtplib.SMTP("198.18.0.2", 25, timeout=20)
s.ehlo("inflight.sender.test")
s.mail("alice@sender.test")
r = subprocess.run([sys.argv[1], "import", sys.argv[2], "--comment", "add third", "--wait", "10"],
                   capture_output=True, text=True)
print(r.stdout, end="")
print("import rc", r.returncode)
code, _ = s.rcpt("x@third.test")
print("in-flight rcpt", code)
s.quit()
PY
out=$(cat "$work/inflight.out")
rc=$(sed -n 's/^import rc //p' "$work/inflight.out")
check "import: exit 0" eq "$rc" 0
check "in flight: the session that began before the push keeps its generation (550)" grep -qx 'in-flight rcpt 550' "$work/inflight.out"
check "import: generation 1 committed" grep -q 'generation 1 committed: 3 tenant(s)' <<<"$out"
check "import: the node serves it" grep -q 'node lab-1: serving generation 1' <<<"$out"
out=$(sw --from alice@sender.test --to x@third.test --header "Subject: third tenant" --body "pushed policy")
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
say "import to delivered: ${elapsed_ms} ms"
check "after: third.test delivered (250)" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "after: the tenant's server got it" wait_for 5 bash -c "grep -l 'pushed policy' '$work/sink3'/*.eml >/dev/null 2>&1"
check "after: kept in the state dir" grep -q '^# mxgate-control generation 1$' "$work/state/snapshot.toml"
check "after: rules went inline" bash -c "grep -q '^rules_text = ' '$work/state/snapshot.toml' && ! grep -q '^rules = ' '$work/state/snapshot.toml'"
check "log: mxgate applied generation 1" grep -q 'tenant snapshot generation 1 from control' "$LOG"

# --- a bad rule file: refused with its line, nothing changes ---
cp "$work/t2.toml" "$work/t3.toml"
printf 'rule BAD body regex /(unclosed/ score 1\n' >"$work/bad.rules"
sed -i 's/^rules = "example.rules"/rules = "bad.rules"/' "$work/t3.toml"
out=$("$CLI" rules check "$work/bad.rules" 2>&1) && rc=0 || rc=$?
check "rules check: a bad file exits 1" eq "$rc" 1
check "rules check: names the line" grep -q "bad.rules: line 1: rule 'BAD'" <<<"$out"
check "rules check: the lab's rules compile" "$CLI" rules check "$work/example.rules"
out=$("$CLI" import "$work/t3.toml" 2>&1) && rc=0 || rc=$?
check "bad rules: exit 1" eq "$rc" 1
check "bad rules: the file and line named" grep -q "t3.toml:[0-9]*: tenant 'example': rules:" <<<"$out"
check "bad rules: still generation 1" eq "$(node_field generation)" 1
check "bad rules: control still at 1" grep -q 'generation       1' <<<"$("$CLI" status)"

# --- a node that cannot keep the snapshot refuses it (NACK) and keeps serving ---
rm "$work/state/snapshot.toml"; mkdir "$work/state/snapshot.toml"
out=$("$CLI" import "$work/t2.toml" --comment "cannot be kept" --wait 10 2>&1) && rc=0 || rc=$?
check "nack: exit 1" eq "$rc" 1
check "nack: the node's reason shown" grep -q 'node lab-1: REFUSED: cannot keep the snapshot' <<<"$out"
check "nack: recorded" eq "$(node_field nacked)" 2
check "nack: still serving 1" eq "$(node_field generation)" 1
out=$(sw --from alice@sender.test --to y@third.test --header "Subject: during nack" --body "still flowing")
check "nack: mail still flows on generation 1" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
rmdir "$work/state/snapshot.toml"
out=$("$CLI" rollback 1 --wait 10 2>&1) && rc=0 || rc=$?
check "rollback: exit 0" eq "$rc" 0
check "rollback: generation 3 is generation 1's document" grep -q 'generation 3 committed: the document of generation 1' <<<"$out"
check "rollback: the node serves 3" eq "$(node_field generation)" 3
check "audit: commit, nack and rollback recorded" bash -c "'$CLI' audit | grep -q rollback && '$CLI' audit | grep -q nack && '$CLI' audit | grep -q 'add third'"
check "metrics: Prometheus text with each node's generation" /usr/bin/python3 -c "
import socket
s = socket.socket(socket.AF_UNIX); s.connect('$work/api.sock')
s.sendall(b'GET /metrics HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n')
r = b''
while True:
    d = s.recv(65536)
    if not d: break
    r += d
head, body = r.split(b'\\r\\n\\r\\n', 1)
assert head.startswith(b'HTTP/1.1 200'), head
assert b'Content-Type: text/plain; version=0.0.4' in head, head
lines = body.decode().splitlines()
assert 'mxgate_control_generation 3' in lines, lines
assert 'mxgate_node_generation{node=\"lab-1\"} 3' in lines, lines
assert 'mxgate_node_refused_generation{node=\"lab-1\"} 2' in lines, lines
assert 'mxgate_node_connected{node=\"lab-1\"} 1' in lines, lines
"
check "json: generation list parses" /usr/bin/python3 -c "
import json, subprocess
g = json.loads(subprocess.check_output(['$CLI', '--json', 'generation', 'list']))
assert [x['generation'] for x in g] == [3, 2, 1], g
assert g[0]['rollback_of'] == 1, g
"

# --- control killed: mail keeps flowing; mxgate restarted meanwhile serves its kept snapshot ---
kill -9 "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true; CTL_PID=""
out=$(sw --from alice@sender.test --to z@third.test --header "Subject: control down" --body "control is down")
check "control down: mail flows" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
lab_down_checked
"$LAB" up "$work/lab.toml" >/dev/null
sink_stop "$SINK_PID"; sink_stop "$SINK3_PID"
sink_start "$work/sink3b" 2528
SINK3_PID=$SINK_PID; SINK_PID=""
check "restart: serves the kept generation" grep -q 'serving generation 3 kept from mxgate-control' "$LOG"
check "restart: says control is unreachable" wait_for 5 grep -q 'control .* unreachable' "$LOG"
out=$(sw --from alice@sender.test --to w@third.test --header "Subject: restarted" --body "kept policy")
check "restart: third.test still delivered" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
ctl_start
check "control back: the node reconnects" wait_for 10 bash -c "[[ \$('$CLI' --json node list | grep -c '\"state\":\"connected\"') == 1 ]]"
check "control back: it serves 3, nothing pushed again" bash -c "[[ \$(grep -c 'from control' '$LOG') == 0 ]]"

# --- hostile peers against control: an oversized frame before hello, a ping flood that never
# reads, 2,000 pipelined requests for a ~1 MB generation; control's memory stays bounded ---
cp "$work/t2.toml" "$work/big.toml"
for i in $(seq 1 20000); do printf '[[user]]\naddress = "user%d@example.test"\n' "$i"; done >>"$work/big.toml"
out=$("$CLI" import "$work/big.toml" --comment "20,000 users" --wait 20 2>&1) && rc=0 || rc=$?
check "big generation: 20,000 users pushed and served" eq "$rc" 0
check "hostile peers against control" ip netns exec mxlab /usr/bin/python3 "$ROOT/tests/e2e/hostile_control.py" \
  "$work/control.sock" "$work/api.sock" "$CTL_PID" 4
check "hostile: the frame refused before its payload" grep -q 'a snapshot frame is not expected here' "$work/control.log"

# --- the policy as objects: tenant add + domain add + route set + commit, mail flows without a
# restart; a block-list entry takes effect at the next commit; a tenant's token sees its tenant only ---
keep=$SINK3_PID
sink_start "$work/sink4" 2529
SINK4_PID=$SINK_PID; SINK_PID=""; SINK3_PID=$keep
out=$(sw --from alice@sender.test --to a@fourth.test --header "Subject: too early")
check "objects: before, fourth.test is nobody's (550)" grep -q '<\*\* 550' <<<"$out"
check "objects: tenant add" "$CLI" tenant add fourth
check "objects: domain add" "$CLI" domain add fourth Fourth.Test
check "objects: route set" "$CLI" route set fourth 198.18.0.1:2529 --tls none
check "objects: tenant set" "$CLI" tenant set fourth verify_recipients=false spam_threshold=7.5
rc=0; out=$("$CLI" tenant set fourth spam_threshold=lots 2>&1) || rc=$?
check "objects: a bad value exits 1" eq "$rc" 1
check "objects: ... naming the key" grep -q "spam_threshold" <<<"$out"
check "objects: diff shows the new tenant" grep -q '^+ tenant fourth' <<<"$("$CLI" diff)"
gen_before=$(node_field generation)
t0=$(date +%s%N)
out=$("$CLI" commit --yes --comment "fourth, by objects" --wait 10 2>&1) && rc=0 || rc=$?
check "objects: commit exits 0" eq "$rc" 0
check "objects: the node serves the new generation" eq "$(node_field generation)" "$((gen_before + 1))"
out=$(sw --from alice@sender.test --to a@fourth.test --header "Subject: by objects" --body "objects")
t1=$(date +%s%N)
check "objects: mail to fourth.test delivered" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "objects: the tenant's server got it" wait_for 5 bash -c "grep -l 'by objects' '$work/sink4'/*.eml >/dev/null 2>&1"
echo "# objects: commit to the first delivered message took $(( (t1 - t0) / 1000000 )) ms (measured, not asserted)"
check "objects: nothing left to commit" grep -q 'nothing to commit' <<<"$("$CLI" commit --yes)"
check "objects: block-list entry" "$CLI" list add fourth block spammer@sender.test
check "objects: commit" "$CLI" commit --yes --wait 10
out=$(sw --from spammer@sender.test --to a@fourth.test --header "Subject: blocked" --body "blocked")
check "objects: the blocked sender is refused (550)" grep -q '<\*\* 550 5.7.1 message rejected by policy' <<<"$out"
check "objects: export is a document import takes" bash -c "'$CLI' export '$work/exported.toml' && '$CLI' import '$work/exported.toml' --wait 10"
check "objects: the export names the tenant" grep -q 'name = "fourth"' "$work/exported.toml"
tok=$("$CLI" --json token add fourth-admin --tenant fourth | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
check "token: a tenant token lists its tenant only" bash -c "[[ \$(MXGATECTL_TOKEN=$tok '$CLI' --json tenant list | /usr/bin/python3 -c 'import json,sys; print([t[\"name\"] for t in json.load(sys.stdin)])') == \"['fourth']\" ]]"
rc=0; MXGATECTL_TOKEN=$tok "$CLI" tenant show third >/dev/null 2>&1 || rc=$?
check "token: another tenant is not found (exit 1)" eq "$rc" 1
rc=0; MXGATECTL_TOKEN=$tok "$CLI" commit --yes >/dev/null 2>&1 || rc=$?
check "token: commit needs the operator (exit 1)" eq "$rc" 1
rc=0; MXGATECTL_TOKEN=mxg_0000 "$CLI" status >/dev/null 2>&1 || rc=$?
check "token: an unknown token exits 1" eq "$rc" 1
rc=0; out=$("$CLI" rules push fourth "$work/bad.rules" 2>&1) || rc=$?
check "rules push: a bad file exits 1 naming its line" bash -c "[[ $rc == 1 ]] && grep -q 'bad.rules: line 1' <<<\"\$1\"" _ "$out"
check "rules push: nothing stored" bash -c "[[ -z \$('$CLI' rules show fourth) ]]"
check "rules push: the lab's rules" "$CLI" rules push fourth "$work/example.rules"
check "rules diff: none against the same file" grep -q 'no difference' <<<"$("$CLI" rules diff fourth "$work/example.rules")"
cp "$work/example.rules" "$work/more.rules"; echo 'rule MORE subject contains "more-more" score 1' >>"$work/more.rules"
check "rules diff: the added line" grep -q '^+[0-9]*: rule MORE' <<<"$("$CLI" rules diff fourth "$work/more.rules")"
check "rules: committed and served" "$CLI" commit --yes --wait 10
check "cli: bash completion parses" bash -c "'$CLI' completion bash | bash -n"
check "cli: man page renders" bash -c "'$CLI' man | groff -man -Tutf8 -ww -z"
check "cli: every command has --help" bash -c "'$CLI' tenant add --help | grep -q 'usage: mxgatectl tenant add TENANT'"
sink_stop "$SINK4_PID"
lab_down_checked
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG' '$work/control.log'"
finish
