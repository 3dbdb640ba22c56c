#!/usr/bin/env bash
# Linux's TCP as the real peer of the data plane's stack, through the tap port: a kernel client
# sends 256 MiB to discard and round-trips 64 MiB through echo (SHA-256 compared); a kernel
# server receives 64 MiB from a connection the data plane opens (SHA-256 of the chargen
# pattern); 2,000 kernel connections are open at once. Then the same with the port's impairment
# layer on (drop 1%, reorder 1%, duplicate 0.5%, both directions). A flood of raw SYNs that are
# never completed must not keep a real client out.
source "$(dirname "$0")/lib.sh"
PEER=$ROOT/tests/e2e/tcp_peer.py
SRC_BYTES=$((64 << 20))
work=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  lab_down_quiet
  rm -rf "$work"
}
trap cleanup EXIT

make_config() {  # make_config OUT [IMPAIR]
  sed -e "s|^services = .*|&\nsource_to = \"198.18.0.1:5001\"\nsource_bytes = $SRC_BYTES\nsource_after_ms = 2000|" \
    "$ROOT/config/lab.toml" >"$1"
  sed -i '/^\[gateway\]/,$d' "$1"  # no SMTP gateway in this test: TCP services only
  if [[ ${2:-} == impair ]]; then
    sed -i -e 's|^mtu = 1500.*|&\nimpair_drop_ppm = 10000\nimpair_reorder_ppm = 10000\nimpair_dup_ppm = 5000\nimpair_seed = 7|' "$1"
  fi
}

# Lets closes in flight finish: waits (bounded, 20 s) until the kernel has no connection to the
# data plane other than in TIME-WAIT.
wait_closes() {
  for _ in $(seq 1 100); do
    [[ -z $(ip netns exec mxlab ss -Htan state established state fin-wait-1 state fin-wait-2 state closing \
            state last-ack state close-wait dst 198.18.0.2) ]] && break
    sleep 0.2
  done
}

run_round() {  # run_round NAME CONFIG
  local name=$1 cfg=$2
  lab_down_quiet
  rm -f "$work/served"
  # The kernel server for the data plane's own connection, started as soon as the namespace exists.
  (for _ in $(seq 1 200); do ip netns list | grep -qw mxlab && break; sleep 0.05; done
   exec ip netns exec mxlab /usr/bin/python3 "$PEER" serve 5001 "$SRC_BYTES" "$work/served") &
  server_pid=$!
  "$LAB" up "$cfg"
  check "$name: 256 MiB to discard" timeout 300 "$LAB" exec /usr/bin/python3 "$PEER" discard $((256 << 20))
  check "$name: 64 MiB through echo, SHA-256 equal" timeout 300 "$LAB" exec /usr/bin/python3 "$PEER" echo $((64 << 20))
  check "$name: 2000 concurrent connections echoed" timeout 300 "$LAB" exec /usr/bin/python3 "$PEER" many 2000
  local rc=0
  wait "$server_pid" || rc=$?
  server_pid=
  check "$name: kernel server got the data plane's 64 MiB, SHA-256 equal ($(cat "$work/served" 2>/dev/null))" \
    bash -c "[[ $rc == 0 ]] && grep -q '^ok ' '$work/served'"
  wait_closes
  # Last, so that the closes above are not caught in it: a flood of SYNs that are never completed
  # must not keep a real client out.
  check "$name: served after a flood of 20000 raw SYNs" timeout 120 "$LAB" exec /usr/bin/python3 "$PEER" synflood 20000
  wait_closes
  "$LAB" down >"$work/down" 2>&1 && rc=0 || rc=$?
  check "$name: mxgate exits 0" eq "$rc" 0
  check "$name: discard counted 256 MiB" ge "$(counter discard_bytes)" $((256 << 20))
  check "$name: echo counted 64 MiB" ge "$(counter echo_bytes)" $((64 << 20))
  check "$name: source sent 64 MiB" eq "$(counter source_bytes)" "$SRC_BYTES"
  check "$name: no TCP checksum or header drops" eq \
    "$(( $(counter tcp_drop_checksum) + $(counter tcp_drop_data_offset) + $(counter tcp_drop_bad_option) ))" 0
  # Left at exit: only TIME-WAIT, and half-open connections of the SYN flood whose SYN-ACKs the
  # kernel's resets did not reach (the tap queue drops part of a flood); they expire by themselves.
  check "$name: no connection left but TIME-WAIT and flood half-opens" bash -c \
    "grep ' tcp conns=' '$LOG' | grep -Eqv 'state_(ESTABLISHED|FIN-WAIT|CLOSE-WAIT|CLOSING|LAST-ACK|SYN-SENT)'"
  grep -E 'tcp conns|services|impair' "$LOG" | sed 's/^/    /'
}

make_config "$work/clean.toml"
run_round clean "$work/clean.toml"
make_config "$work/impair.toml" impair
run_round impaired "$work/impair.toml"
check "impaired: the impairment layer dropped frames" ge "$(grep -o 'impair_drop=[0-9]*' "$LOG" | cut -d= -f2 | head -1)" 1
check "impaired: and our stack retransmitted" ge "$(counter tcp_retransmit)" 1
finish
