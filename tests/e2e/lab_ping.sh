#!/usr/bin/env bash
# The data plane answers ARP and ICMP echo through the tap, and the counters it prints at exit
# match what the kernel side sent and received.
source "$(dirname "$0")/lib.sh"
trap lab_down_quiet EXIT
lab_down_quiet
"$LAB" up

out=$(ip netns exec mxlab ping -c 5 -i 0.2 -W 2 198.18.0.2)
check "ping: 5 replies" grep -q '5 packets transmitted, 5 received' <<<"$out"
out=$(ip netns exec mxlab arping -c 3 -w 5 -I mxtap0 198.18.0.2)
check "arping: 3 responses" grep -q 'Received 3 response' <<<"$out"
check "arping sees the stack's MAC" grep -qi 'reply from 198.18.0.2 \[02:6D:78:67:00:01\]' <<<"$out"
ping_big=$(ip netns exec mxlab ping -c 2 -i 0.2 -s 1472 -M do 198.18.0.2)
check "ping with a full 1500-byte datagram" grep -q '2 received' <<<"$ping_big"

out_echos=$(snmp Icmp OutEchos)
in_replies=$(snmp Icmp InEchoReps)
"$LAB" down > /tmp/mxlab_down.$$ 2>&1 && rc=0 || rc=$?
check "mxgate exits 0 on SIGTERM" eq "$rc" 0
check "down reports the exit status" grep -q 'exited with status 0' /tmp/mxlab_down.$$
rm -f /tmp/mxlab_down.$$

check "echo requests counted = kernel OutEchos ($out_echos)" eq "$(counter icmp_echo_request_in)" "$out_echos"
check "echo replies sent = kernel InEchoReps ($in_replies)" eq "$(counter icmp_echo_reply_out)" "$in_replies"
check "at least 8 echo replies (5 + 2 + lab readiness)" ge "$(counter icmp_echo_reply_out)" 8
check "ARP requests answered >= 3" ge "$(counter arp_reply_out)" 3
check "stack saw every frame the port received" eq "$(counter eth_rx_frames)" "$(driver_counter ipackets)"
check "port sent every frame the stack built" eq "$(counter eth_tx_frames)" "$(driver_counter opackets)"
check "no IPv4 frame dropped" eq "$(( $(counter ipv4_drop_checksum) + $(counter ipv4_drop_total_len) + $(counter icmp_drop_checksum) ))" 0
check "namespace removed" bash -c '! ip netns list | grep -qw mxlab'
check "no mxgate left running" bash -c "[[ ! -f $MXLAB_STATE/mxgate.pid ]]"
finish
