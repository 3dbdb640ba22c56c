#!/usr/bin/env bash
# bench/idle_sessions.sh [COUNT...] — memory per idle connection in the lab (default counts:
# 10000 100000). For each count it starts mxgate with a connection table for that count, then
# opens COUNT connections from the kernel side of the tap (several source addresses, many
# processes: a process may hold ~19,000 sockets here) and measures mxgate's RSS (/proc):
#   smtp   COUNT idle SMTP sessions on port 25 (greeting read, nothing sent: a slowloris)
#   tcp    COUNT idle TCP connections on the discard service (port 9: TCP state only)
# Baseline in the same run: mxgate's RSS with no connection, and with the table for 8,192
# connections (the lab default), so the table's cost per slot is shown apart from the cost per
# connection in use. Root; creates and removes the lab itself; every loop is bounded.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if (($#)); then COUNTS=("$@"); else COUNTS=(10000 100000); fi
export MX_SOURCE_ROOT=$root
source "$root/tests/e2e/lib.sh"
work=$(mktemp -d)
HOLDERS=()
cleanup() {
  for p in "${HOLDERS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  lab_down_quiet
  rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
PER_PROC=$(( $(ulimit -Hn) - 500 ))
SRC_ADDRS=(198.18.0.10 198.18.0.11 198.18.0.12 198.18.0.13 198.18.0.14 198.18.0.15 198.18.0.16 198.18.0.17)

cat >"$work/hold.py" <<'PY'
# hold.py SRC PORT COUNT READY_FILE STOP_FILE: COUNT connections from SRC to 198.18.0.2:PORT,
# kept open (for port 25 the greeting is read first) until STOP_FILE appears (at most 600 s).
import os, socket, sys, time
src, port, n, ready, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
socks, t0 = [], time.time()
for i in range(n):
    if time.time() - t0 > 300:
        break
    try:
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(10)
        s.connect(("198.18.0.2", port))
        if port == 25 and not s.recv(256).startswith(b"220"):
            break
        socks.append(s)
    except OSError as e:
        print("hold: %s after %d: %s" % (src, len(socks), e), file=sys.stderr)
        break
with open(ready, "w") as f:
    f.write(str(len(socks)))
while not os.path.exists(stop) and time.time() - t0 < 600:
    time.sleep(0.2)
PY

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$(<"$MXLAB_STATE/mxgate.pid")/status"; }
start_lab() {  # start_lab MAX_CONNS
  gw_config "$work"
  sed -i "s/^max_conns = .*/max_conns = $1/" "$work/lab.toml"
  sed -i "s/^max_sessions = .*/max_sessions = $1/" "$work/lab.toml"
  # The previous lab's namespace and tap may take a moment to go: one retry.
  "$LAB" up "$work/lab.toml" >/dev/null || { sleep 3; "$LAB" up "$work/lab.toml" >/dev/null; }
  ip netns exec mxlab sysctl -qw net.ipv4.ip_local_port_range="1024 65000"
  for a in "${SRC_ADDRS[@]}"; do ip -n mxlab addr add "$a/24" dev mxtap0 2>/dev/null || true; done
  sleep 2
}
open_conns() {  # open_conns PORT COUNT: sets GOT to how many are open once all holders are ready
  local port=$1 n=$2 left=$2 i=0 total=0 k
  rm -f "$work"/ready.* "$work/stop"
  HOLDERS=()
  while (( left > 0 )); do
    k=$(( left < PER_PROC ? left : PER_PROC ))
    # Each source address has ~64,000 ports: spread the holders over the addresses.
    ip netns exec mxlab /usr/bin/python3 "$work/hold.py" "${SRC_ADDRS[$(( i % ${#SRC_ADDRS[@]} ))]}" "$port" "$k" \
      "$work/ready.$i" "$work/stop" >/dev/null 2>>"$work/hold.err" &
    HOLDERS+=($!)
    left=$(( left - k )); i=$(( i + 1 ))
  done
  for _ in $(seq 1 1800); do
    local ready; ready=$(find "$work" -maxdepth 1 -name "ready.*" | wc -l)
    (( ready == i )) && break
    sleep 0.2
  done
  for f in "$work"/ready.*; do total=$(( total + $(<"$f") )); done
  GOT=$total
}
close_conns() {
  touch "$work/stop"
  for p in "${HOLDERS[@]}"; do wait "$p" 2>/dev/null || true; done
  HOLDERS=()
  sleep 2
}

echo "bench: idle connections, $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
lab_down_quiet
start_lab 8192
base8k=$(rss_kb)
"$LAB" down >/dev/null
echo "  mxgate with the 8,192-connection table, idle: ${base8k} kB"
printf '%-8s %9s %12s %12s %12s %14s\n' kind count "rss0 kB" "rss kB" "table B/slot" "B/connection"
for n in "${COUNTS[@]}"; do
  slots=$(( n + 16384 ))
  for kind in smtp tcp; do
    port=25; [[ $kind == tcp ]] && port=9
    echo "  ... $kind: starting mxgate for $slots connections, opening $n" >&2
    start_lab "$slots"
    rss0=$(rss_kb)
    open_conns "$port" "$n"
    got=$GOT
    sleep 2
    rss1=$(rss_kb)
    close_conns
    "$LAB" down >/dev/null
    if (( got < n )); then echo "  $kind: only $got of $n connections opened (see below)" >&2; tail -3 "$work/hold.err" >&2; fi
    per_slot=$(( (rss0 - base8k) * 1024 / (slots - 8192) ))
    per_conn=$(( got > 0 ? (rss1 - rss0) * 1024 / got : 0 ))
    printf '%-8s %9d %12d %12d %12d %14d\n' "$kind" "$got" "$rss0" "$rss1" "$per_slot" "$per_conn"
    echo "result: ${kind}_${n}_bytes_per_connection=$per_conn ${kind}_${n}_opened=$got"
  done
done
