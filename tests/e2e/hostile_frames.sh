#!/usr/bin/env bash
# Malformed frames from the kernel side are each dropped under the counter that names the
# reason (exact counts), random garbage does not disturb the data plane, and it still answers.
source "$(dirname "$0")/lib.sh"
trap lab_down_quiet EXIT
lab_down_quiet
"$LAB" up >/dev/null
N=200
tap_tx_dropped() {
  ip -n mxlab -s -j link show mxtap0 | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["stats64"]["tx"]["dropped"])'
}
dropped_before=$(tap_tx_dropped)
expected=$(ip netns exec mxlab /usr/bin/python3 "$(dirname "$0")/hostile_frames.py" 02:6d:78:67:00:01 "$N")
sleep 0.5
out=$(ip netns exec mxlab ping -c 3 -i 0.2 -W 2 198.18.0.2)
check "still answers ping after the flood" grep -q '3 received' <<<"$out"
tx_dropped=$(( $(tap_tx_dropped) - dropped_before ))
"$LAB" down >/dev/null 2>&1 && rc=0 || rc=$?
check "mxgate exits 0 after hostile input" eq "$rc" 0
check "kernel dropped none of our frames on the tap (counts are exact)" eq "$tx_dropped" 0
while IFS='=' read -r name n; do
  got=$(counter "$name")
  # random garbage may add to a few counters, never subtract: exact for the rest
  case $name in
    eth_drop_unknown_type|arp_drop_malformed|arp_drop_bad_op|ipv4_drop_*|icmp_drop_*) check "$name >= $n" ge "$got" "$n" ;;
    *) check "$name = $n" eq "$got" "$n" ;;
  esac
done <<<"$expected"
check "stack saw every frame the port received" eq "$(counter eth_rx_frames)" "$(driver_counter ipackets)"
check "no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG'"
finish
