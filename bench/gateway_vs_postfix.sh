#!/usr/bin/env bash
# bench/gateway_vs_postfix.sh [MESSAGES] [SESSIONS] [BYTES] — end-to-end mail throughput in the
# lab, in one run, with the same load generator (Postfix's smtp-source) and the same sink
# (Postfix's smtp-sink on 198.18.0.1:2526, the tenant's route):
#   direct   smtp-source -> smtp-sink                       (the ceiling of the tools and the host)
#   postfix  smtp-source -> Postfix as a relay -> smtp-sink (a private instance in the lab)
#   mxgate   smtp-source -> mxgate (tap, tcpstack, scan, AV, log) -> smtp-sink
# Prints messages/s for each, the ratios, and for the mxgate run where the CPU went: every
# mxgate thread's CPU seconds, the load tools', and the machine's idle share (from /proc/stat),
# so that the limit is read off the numbers. Root; creates and removes the lab itself.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-5000}
S=${2:-20}
L=${3:-4096}
export MX_SOURCE_ROOT=$root
source "$root/tests/e2e/lib.sh"
source "$root/tests/e2e/postfix_lab.sh"
work=$(mktemp -d)
SINK=""
cleanup() {
  postfix_lab_stop "$work/pf"
  if [[ -n $SINK ]]; then kill "$SINK" 2>/dev/null || true; wait "$SINK" 2>/dev/null || true; fi
  lab_down_quiet
  rm -rf "$work"
}
trap cleanup EXIT
lab_down_quiet
gw_config "$work"
"$LAB" up "$work/lab.toml" >/dev/null
pid=$(<"$MXLAB_STATE/mxgate.pid")
ip netns exec mxlab smtp-sink -u postfix 198.18.0.1:2526 1000 >/dev/null 2>&1 &
SINK=$!
sleep 0.5

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f", n / (b - a) }'; }
cpu_idle() { awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }
# "tid comm ticks" for every thread of a process (comm without spaces).
threads() {
  for t in /proc/"$1"/task/*; do
    awk '{ c = $0; sub(/^[0-9]+ \(/, "", c); sub(/\).*/, "", c); gsub(/ /, "_", c); split($0, f, ") ");
           split(f[2], g, " "); print $1, c, g[12] + g[13] }' "$t/stat" 2>/dev/null
  done | sort
}
source_run() {  # source_run TARGET
  ip netns exec mxlab timeout 900 smtp-source -s "$S" -m "$N" -l "$L" -d -f load@sender.test -t rcpt@example.test \
    -N "$1" >/dev/null 2>&1
}
hz=$(getconf CLK_TCK)

echo "bench: $N messages of ${L} bytes over $S sessions; $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"

# --- direct ---
t0=$(now); source_run 198.18.0.1:2526; t1=$(now)
direct=$(rate "$N" "$t0" "$t1")
echo "direct   smtp-source -> smtp-sink:            $direct msgs/s"

# --- Postfix as a relay ---
postfix_lab_start "$work/pf" 198.18.0.1:2600 '[198.18.0.1]:2526' none
t0=$(now); source_run 198.18.0.1:2600; ta=$(now)
for _ in $(seq 1 9000); do
  (( $(grep -c 'status=sent' "$work/pf/maillog" 2>/dev/null || echo 0) >= N )) && break
  sleep 0.1
done
t1=$(now)
sent=$(grep -c 'status=sent' "$work/pf/maillog" || true)
postfix=$(rate "$sent" "$t0" "$t1")
echo "postfix  smtp-source -> Postfix -> smtp-sink: $postfix msgs/s relayed ($sent relayed; accepted at $(rate "$N" "$t0" "$ta") msgs/s into its queue)"
postfix_lab_stop "$work/pf"

# --- mxgate ---
read -r idle0 total0 < <(cpu_idle)
threads "$pid" >"$work/th0"
src0=$(awk '{print $14 + $15}' /proc/"$SINK"/stat)
t0=$(now); source_run 198.18.0.2:25; t1=$(now)
threads "$pid" >"$work/th1"
read -r idle1 total1 < <(cpu_idle)
src1=$(awk '{print $14 + $15}' /proc/"$SINK"/stat)
mx=$(rate "$N" "$t0" "$t1")
wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
echo "mxgate   smtp-source -> mxgate -> smtp-sink:  $mx msgs/s (every 250 after the sink's 250 and the log's fsync)"
echo
echo "ratios: mxgate/direct $(awk -v a="$mx" -v b="$direct" 'BEGIN { printf "%.2f", a / b }'), mxgate/postfix $(awk -v a="$mx" -v b="$postfix" 'BEGIN { printf "%.2f", a / b }')"
echo
echo "where the CPU went during the mxgate run ($wall s wall, $(nproc) CPUs = $(awk -v w="$wall" -v n="$(nproc)" 'BEGIN { printf "%.2f", w * n }') CPU-s):"
join "$work/th0" "$work/th1" 2>/dev/null | awk -v hz="$hz" -v w="$wall" '
  { d = ($5 - $3) / hz; s[$2] += d; n[$2]++ } END { for (k in s) printf "  mxgate %-22s %6.2f CPU-s (%3.0f%% of one CPU)\n", k " x" n[k], s[k], 100 * s[k] / w }' |
  sort -k4 -nr | tee "$work/mx"
mxcpu=$(awk '{ s += $4 } END { print s + 0 }' "$work/mx")
sinkcpu=$(awk -v a="$src0" -v b="$src1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
busy=$(awk -v i0="$idle0" -v i1="$idle1" -v t0="$total0" -v t1="$total1" -v hz="$hz" 'BEGIN { printf "%.2f", ((t1 - t0) - (i1 - i0)) / hz }')
echo "  mxgate, all threads            $(printf '%6.2f' "$mxcpu") CPU-s"
echo "  smtp-sink                      $(printf '%6.2f' "$sinkcpu") CPU-s"
echo "  everything else (smtp-source, the kernel's tap and TCP)  $(awk -v b="$busy" -v m="$mxcpu" -v s="$sinkcpu" 'BEGIN { printf "%.2f", b - m - s }') CPU-s"
echo "  machine idle                   $(awk -v i0="$idle0" -v i1="$idle1" -v t0="$total0" -v t1="$total1" 'BEGIN { printf "%5.1f%%", 100 * (i1 - i0) / (t1 - t0) }') of all CPUs"
echo "  mxgate CPU per message         $(awk -v m="$mxcpu" -v n="$N" 'BEGIN { printf "%.0f", 1e6 * m / n }') us"
"$LAB" down >/dev/null
grep '^mxgate: gateway lcore' "$LOG" | sed 's/^/  /'
