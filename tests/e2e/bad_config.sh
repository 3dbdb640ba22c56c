#!/usr/bin/env bash
# A bad config is reported with file, line and key, and mxgate exits non-zero without touching
# the network: no tap, no EAL. `scripts/lab up` with it fails and leaves nothing behind.
source "$(dirname "$0")/lib.sh"
tmp=$(mktemp -d)
trap 'lab_down_quiet; ip netns del mxcfgtest 2>/dev/null || true; rm -rf "$tmp"' EXIT
lab_down_quiet
good=$ROOT/config/lab.toml

mk() {  # mk NAME SED-EXPR
  sed -e "$2" "$good" >"$tmp/$1.toml"
}
mk unknown_key 's/^mtu = 1500/mtu = 1500\nspeed = 10/'
mk bad_addr 's|^ipv4 = "198.18.0.2/24"|ipv4 = "198.18.0.999/24"|'
mk missing 's|^ipv4 = "198.18.0.2/24"||'
mk bad_type 's|^burst = 32|burst = "32"|'
mk bad_lcore 's|^net_lcores = \[1\]|net_lcores = [0]|'

ip netns add mxcfgtest
expect_error() {  # expect_error FILE REGEX
  local out rc=0
  out=$(ip netns exec mxcfgtest "$MXGATE" --config "$1" 2>&1) || rc=$?
  check "$(basename "$1"): exit 1" eq "$rc" 1
  check "$(basename "$1"): message '$2'" grep -qE "$2" <<<"$out"
  check "$(basename "$1"): no EAL output" bash -c "! grep -q EAL <<<\"\$1\"" _ "$out"
}
expect_error "$tmp/unknown_key.toml" "unknown_key.toml:[0-9]+: \[port\] unknown key 'speed'"
expect_error "$tmp/bad_addr.toml" "bad_addr.toml:[0-9]+: \[port\] key 'ipv4': '198.18.0.999/24'"
expect_error "$tmp/missing.toml" "missing.toml:[0-9]+: \[port\] missing key 'ipv4'"
expect_error "$tmp/bad_type.toml" "bad_type.toml:[0-9]+: \[dataplane\] key 'burst': expected an integer, got a string"
expect_error "$tmp/bad_lcore.toml" "bad_lcore.toml:[0-9]+: \[dataplane\] key 'net_lcores'"
expect_error "$tmp/nonexistent.toml" "nonexistent.toml: cannot open config file"
check "no interface was created" eq "$(ip -n mxcfgtest -o link | grep -vc ': lo:')" 0

rc=0; out=$("$MXGATE" --check-config "$tmp/bad_addr.toml" 2>&1) || rc=$?
check "--check-config rejects: exit 1" eq "$rc" 1
rc=0; "$MXGATE" --check-config "$good" >/dev/null || rc=$?
check "--check-config accepts the lab config" eq "$rc" 0
rc=0; "$MXGATE" --bogus >/dev/null 2>&1 || rc=$?
check "unknown option: usage, exit 2" eq "$rc" 2

rc=0; out=$("$LAB" up "$tmp/bad_addr.toml" 2>&1) || rc=$?
check "lab up with a bad config fails" eq "$rc" 1
check "lab up names the problem" grep -q "key 'ipv4'" <<<"$out"
check "lab up left no namespace" bash -c '! ip netns list | grep -qw mxlab'

# A valid config whose port cannot start: EAL runs, the port does not exist.
sed -e 's|^vdev = .*|pci = "0000:ff:1f.7"|' "$good" >"$tmp/noport.toml"
rc=0; out=$(MXLAB_UP_TIMEOUT=20 "$LAB" up "$tmp/noport.toml" 2>&1) || rc=$?
check "lab up with a missing device fails" eq "$rc" 1
check "lab up shows mxgate's reason" grep -q "no DPDK device named '0000:ff:1f.7'" <<<"$out"
check "lab up cleaned up after the failure" bash -c '! ip netns list | grep -qw mxlab'
finish
