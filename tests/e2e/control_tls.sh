#!/usr/bin/env bash
# tests/e2e/control_tls.sh — mxgate-control's TCP listeners with the real data plane in the lab.
# mxgate runs inside the lab namespace (scripts/lab), so control is started there too and listens
# on that namespace's own loopback (127.0.0.1): nodes with mutual TLS, the API over HTTPS. A
# throwaway PKI is made with the openssl CLI. Checked: the node, configured with socket =
# "tcp:127.0.0.1:PORT", its certificate and control's CA and name, connects over TLS 1.3 and says
# hello; an `mxgatectl import` reaches it and mail to the imported tenant flows; a client without
# a certificate, or with another CA's, is refused; curl with a token gets /v1/status, without one
# 401, and no Server banner; plain HTTP on the HTTPS port is closed and control keeps serving;
# testssl.sh (protocols, cipher categories, vulnerabilities; bounded in time) finds nothing
# VULNERABLE and TLS 1.0/1.1 not offered. Network: the lab namespace only (its loopback and tap).
#
# The lab is shared: this test waits for a lab another test has up, and never takes down one it
# did not bring up.
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
pki=$work/pki
SINK_PID=""; CTL_PID=""; LAB_MINE=0
CTL=${MXGATE_CONTROL:-$ROOT/build/control/mxgate-control}
CLI=${MXGATECTL:-$ROOT/build/control/mxgatectl}
TESTSSL=${TESTSSL:-$(command -v testssl || command -v testssl.sh || true)}
NODE_PORT=17443          # on the lab namespace's loopback: nothing else listens there
API_PORT=17444
LAB_WAIT_S=240           # how long a lab in use by another test is waited for
TESTSSL_BUDGET_S=150     # testssl.sh -p -s -U takes ~80 s on the 2-core VM
cleanup() {
  sink_stop "$SINK_PID"
  if [[ -n $CTL_PID ]]; then kill "$CTL_PID" 2>/dev/null || true; wait "$CTL_PID" 2>/dev/null || true; fi
  if ((LAB_MINE)); then lab_down_quiet; fi
  rm -rf "$work"
}
trap cleanup EXIT
ns() { ip netns exec mxlab "$@"; }
lab_busy() { ip netns list 2>/dev/null | grep -q '^mxlab\b'; }
for _ in $(seq 1 "$LAB_WAIT_S"); do lab_busy || break; sleep 1; done
if lab_busy; then say "FAIL: the lab (namespace mxlab) stayed in use by another test for ${LAB_WAIT_S}s"; exit 1; fi
[[ -n $TESTSSL ]] || { say "FAIL: testssl.sh is not installed (scripts/setup installs it)"; exit 1; }

# --- a throwaway PKI: one CA for control and the nodes, and a stranger's CA ---
mkdir -p "$pki"
ca() {  # ca NAME CN
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$pki/$1.key" -out "$pki/$1.crt" 2>/dev/null
}
leaf() {  # leaf NAME CA CN SUBJECT_ALT_NAMES EXTENDED_KEY_USAGE
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
    -keyout "$pki/$1.key" -out "$pki/$1.csr" 2>/dev/null
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
    "$5" "$4" >"$pki/$1.ext"
  openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$2.crt" -CAkey "$pki/$2.key" -CAcreateserial -days 2 -sha256 \
    -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
ca ca "mxgate e2e CA"
ca stranger-ca "somebody else's CA"
leaf control ca control.lab.test "DNS:control.lab.test,IP:127.0.0.1" serverAuth
leaf node ca lab-1 "DNS:lab-1" clientAuth
leaf stranger stranger-ca lab-1 "DNS:lab-1" clientAuth
check "pki: made with the openssl CLI" openssl verify -CAfile "$pki/ca.crt" "$pki/control.crt" "$pki/node.crt"

gw_config "$work"
cat >>"$work/lab.toml" <<EOF

[control]
socket = "tcp:127.0.0.1:$NODE_PORT"
node_name = "lab-1"
state_dir = "$work/state"
tls_ca = "$pki/ca.crt"
tls_cert = "$pki/node.crt"
tls_key = "$pki/node.key"
tls_server_name = "control.lab.test"
EOF
export MXGATECTL_SOCKET=$work/api.sock
sw() { ns swaks --server 198.18.0.2 --port 25 --helo client.sender.test --timeout 20 "$@" 2>&1 || true; }
wait_for() {  # wait_for SECONDS CMD...
  local t=$1; shift
  for _ in $(seq 1 $((t * 10))); do "$@" && return 0; sleep 0.1; done
  return 1
}
https() { ns curl -sS --max-time 10 --cacert "$pki/ca.crt" "$@"; }

# --- the node first: control is not there yet ---
"$LAB" up "$work/lab.toml" >/dev/null
LAB_MINE=1
check "node: control unreachable at first, retrying" wait_for 5 grep -q "control tcp:127.0.0.1:$NODE_PORT unreachable" "$LOG"

# --- control in the lab namespace, on its loopback ---
ip netns exec mxlab "$CTL" --store "$work/control.db" --node-socket "$work/control.sock" --api-socket "$work/api.sock" \
  --tls-cert "$pki/control.crt" --tls-key "$pki/control.key" \
  --node-listen "127.0.0.1:$NODE_PORT" --node-ca "$pki/ca.crt" --api-listen "127.0.0.1:$API_PORT" \
  >>"$work/control.log" 2>&1 &
CTL_PID=$!  # ip netns exec execs control: this is its PID (not through the ns function: a
            # backgrounded function is a subshell, and killing it left control running)
check "control: ready with both TCP listeners" wait_for 10 grep -q \
  "nodes (mutual TLS) on 127.0.0.1:$NODE_PORT, API (HTTPS) on 127.0.0.1:$API_PORT" "$work/control.log"
check "node: connected over mutual TLS" wait_for 15 bash -c "[[ \$('$CLI' --json node list | grep -c '\"state\":\"connected\"') == 1 ]]"
check "control: the node's certificate and TLS 1.3" grep -q \
  "node connection from 127.0.0.1:[0-9]*: TLSv1.3 .*, certificate DNS:lab-1 CN=lab-1" "$work/control.log"
check "node: says it is connected, with TLS 1.3" grep -q \
  "control tcp:127.0.0.1:$NODE_PORT connected as node lab-1 .*TLSv1.3" "$LOG"

# --- a push over TLS: a new tenant's mail flows ---
cp "$work/tenants.toml" "$work/t2.toml"
cat >>"$work/t2.toml" <<'EOF'

[[tenant]]
name = "third"
domains = ["third.test"]
route = "198.18.0.1:2528"
route_tls = "none"
verify_recipients = false
EOF
sink_start "$work/sink3" 2528
out=$("$CLI" import "$work/t2.toml" --comment "over TLS" --wait 10 2>&1) && rc=0 || rc=$?
check "import: exit 0" eq "$rc" 0
check "import: the node serves generation 1" grep -q 'node lab-1: serving generation 1' <<<"$out"
out=$(sw --from alice@sender.test --to x@third.test --header "Subject: over tls" --body "pushed over mutual TLS")
check "mail: third.test delivered (250)" grep -q '<-  250 2.0.0 Ok: [0-9]* delivered' <<<"$out"
check "mail: the tenant's server got it" wait_for 5 bash -c "grep -l 'pushed over mutual TLS' '$work/sink3'/*.eml >/dev/null 2>&1"
check "log: records shipped over TLS" wait_for 10 bash -c "'$CLI' --json status | /usr/bin/python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"log_records\"] > 0 else 1)'"

# --- nodes control must refuse ---
ns timeout 10 openssl s_client -connect "127.0.0.1:$NODE_PORT" -CAfile "$pki/ca.crt" </dev/null >/dev/null 2>&1 || true
check "mTLS: no client certificate is refused" wait_for 5 grep -q "TLS handshake failed: peer did not return a certificate" "$work/control.log"
ns timeout 10 openssl s_client -connect "127.0.0.1:$NODE_PORT" -CAfile "$pki/ca.crt" \
  -cert "$pki/stranger.crt" -key "$pki/stranger.key" </dev/null >/dev/null 2>&1 || true
check "mTLS: another CA's certificate is refused" wait_for 5 grep -q "TLS handshake failed: certificate verify failed" "$work/control.log"
check "mTLS: the real node is still the only one" bash -c "[[ \$('$CLI' --json node list | grep -c '\"state\":\"connected\"') == 1 ]]"

# --- the API over HTTPS ---
tok=$("$CLI" --json token add e2e-ops | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
out=$(https -H "Authorization: Bearer $tok" "https://127.0.0.1:$API_PORT/v1/status" 2>&1) || true
check "https: a token gets /v1/status" /usr/bin/python3 -c "
import json, sys
s = json.loads(sys.argv[1])
assert s['generation'] == 1 and s['nodes_connected'] == 1, s
" "$out"
check "https: without a token 401" eq "$(https -o /dev/null -w '%{http_code}' "https://127.0.0.1:$API_PORT/v1/status")" 401
check "https: a bad token 401" eq "$(https -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer mxg_00' "https://127.0.0.1:$API_PORT/v1/status")" 401
check "https: no Server banner" bash -c "! ip netns exec mxlab curl -sS --max-time 10 --cacert '$pki/ca.crt' -D - -o /dev/null \
  'https://127.0.0.1:$API_PORT/v1/status' | grep -qi '^server:'"
check "https: plain HTTP on the port fails" bash -c "! ip netns exec mxlab curl -sS --max-time 5 -o /dev/null 'http://127.0.0.1:$API_PORT/v1/status' 2>/dev/null"
check "https: control unharmed" eq "$(https -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $tok" "https://127.0.0.1:$API_PORT/metrics")" 200
check "https: the wrong name is refused by curl" bash -c "! ip netns exec mxlab curl -sS --max-time 5 --cacert '$pki/ca.crt' \
  --resolve other.lab.test:$API_PORT:127.0.0.1 -o /dev/null 'https://other.lab.test:$API_PORT/v1/status' 2>/dev/null"

# --- testssl.sh against the API port (bounded: protocols, cipher categories, vulnerabilities) ---
t0=$SECONDS
ns timeout "$TESTSSL_BUDGET_S" "$TESTSSL" --quiet --color 0 --warnings off --nodns none -p -s -U \
  "127.0.0.1:$API_PORT" >"$work/testssl.out" 2>&1 || true
say "testssl.sh took $((SECONDS - t0)) s"
grep -E '^ (SSLv2|SSLv3|TLS 1(\.[123])?) |VULNERABLE|Strong encryption|Obsolete CBC' "$work/testssl.out" | sed 's/^/# testssl: /' || true
check "testssl: ran to the end" grep -q '^ Done ' "$work/testssl.out"
check "testssl: nothing VULNERABLE" bash -c "! grep -q 'VULNERABLE' '$work/testssl.out'"
check "testssl: TLS 1.0 not offered" grep -qE '^ TLS 1 +not offered' "$work/testssl.out"
check "testssl: TLS 1.1 not offered" grep -qE '^ TLS 1\.1 +not offered' "$work/testssl.out"
check "testssl: TLS 1.3 offered" grep -qE '^ TLS 1\.3 +offered' "$work/testssl.out"
check "testssl: no CBC suites" grep -qE 'Obsolete CBC ciphers.* not offered' "$work/testssl.out"

sink_stop "$SINK_PID"; SINK_PID=""
kill "$CTL_PID"; wait "$CTL_PID" 2>/dev/null || true; CTL_PID=""
lab_down_checked; LAB_MINE=0
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG' '$work/control.log'"
if ((FAILS)); then tail -n 30 "$work/control.log"; fi
finish
