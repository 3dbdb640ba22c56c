#!/usr/bin/env bash
# bench/tcp_vs_kernel.sh [BUILD_DIR] — our TCP stack against the Linux kernel, per core, in one run:
# short connections/s and bulk payload throughput (both ends in one thread on one CPU: ours over
# an in-memory link, the kernel over loopback with one epoll loop), and memory per idle
# connection. Bulk runs three times each and the median is used (loopback bulk is noisy here).
# Prints the JSON lines of every run, then the ratios. Bounded: every run has --max-seconds.
set -euo pipefail
B=${1:-build}
cd "$(dirname "$0")/.."
CPU=${CPU:-1}
TOTAL=${TOTAL:-200000}
BYTES=${BYTES:-4GiB}
field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "== short connections (SYN, 64-byte request, 64-byte reply, FIN), $TOTAL, 64 in flight, cpu $CPU"
k_short=$("$B/bench/bench_kernel_tcp" --mode short --total "$TOTAL" --cpu "$CPU" --max-seconds 60)
echo "$k_short"
m_short=$("$B/bench/bench_tcp" --mode short --total "$TOTAL" --cpu "$CPU" --max-seconds 60)
echo "$m_short"
m_short_off=$("$B/bench/bench_tcp" --mode short --total "$TOTAL" --cpu "$CPU" --max-seconds 60 --offload)
echo "$m_short_off"

echo "== bulk, $BYTES over one connection, cpu $CPU (x3, median)"
kb=(); mb=(); mbo=()
for _ in 1 2 3; do
  l=$("$B/bench/bench_kernel_tcp" --mode bulk --bytes "$BYTES" --cpu "$CPU" --max-seconds 60); echo "$l"; kb+=("$(field gbit_per_s <<<"$l")")
  l=$("$B/bench/bench_tcp" --mode bulk --bytes "$BYTES" --cpu "$CPU" --max-seconds 60); echo "$l"; mb+=("$(field gbit_per_s <<<"$l")")
  l=$("$B/bench/bench_tcp" --mode bulk --bytes "$BYTES" --cpu "$CPU" --max-seconds 60 --offload); echo "$l"; mbo+=("$(field gbit_per_s <<<"$l")")
done

echo "== memory per idle established connection"
idle=$("$B/bench/bench_tcp" --mode idle --total 20000)
echo "$idle"

ks=$(field per_cpu_second <<<"$k_short"); ms=$(field per_cpu_second <<<"$m_short"); mso=$(field per_cpu_second <<<"$m_short_off")
kbm=$(printf '%s\n' "${kb[@]}" | median); mbm=$(printf '%s\n' "${mb[@]}" | median); mbom=$(printf '%s\n' "${mbo[@]}" | median)
echo "== ratios (mxgate / kernel)"
awk -v ks="$ks" -v ms="$ms" -v mso="$mso" -v kb="$kbm" -v mb="$mbm" -v mbo="$mbom" -v idle="$(field bytes_per_idle_conn <<<"$idle")" 'BEGIN {
  printf "short connections per CPU-second: kernel %.0f, mxgate %.0f (x%.1f), with checksum offload %.0f (x%.1f); goal x5\n", ks, ms, ms/ks, mso, mso/ks
  printf "bulk Gbit/s (median of 3): kernel %.2f, mxgate %.2f (x%.2f), with checksum offload %.2f (x%.2f); goal x1\n", kb, mb, mb/kb, mbo, mbo/kb
  printf "idle connection: %d bytes of connection state (goal <= 2048)\n", idle
}'
