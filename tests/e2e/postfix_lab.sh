#!/usr/bin/env bash
# tests/e2e/postfix_lab.sh — a private Postfix instance inside the lab namespace, for tests and
# benchmarks (sourced). It has its own config and queue directories under DIR and never touches
# /etc/postfix or the system's queue; it only talks to lab addresses.
#   postfix_lab_start DIR LISTEN RELAYHOST TLS   e.g. DIR 198.18.0.1:2600 [198.18.0.2]:25 encrypt
#       smtpd on LISTEN (kernel side of the lab), every message relayed to RELAYHOST;
#       TLS: none|may|encrypt (smtp_tls_security_level towards the relay host)
#   postfix_lab_stop DIR
#   postfix_lab_queue DIR     messages still queued
postfix_lab_start() {
  local dir=$1 listen=$2 relay=$3 tls=$4
  mkdir -p "$dir/queue" "$dir/data"
  chown postfix "$dir/data"
  # The postfix user must reach its data directory (mktemp makes 0700 directories).
  chmod 755 "$dir" "$(dirname "$dir")"
  cat >"$dir/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
myhostname = postfix.lab.test
mydomain = lab.test
myorigin = lab.test
mydestination =
inet_interfaces = ${listen%:*}
inet_protocols = ipv4
mynetworks = 198.18.0.0/15 127.0.0.0/8
relay_domains =
relayhost = $relay
smtp_tls_security_level = $tls
smtp_tls_loglevel = 1
smtpd_relay_restrictions = permit_mynetworks, reject
smtp_dns_support_level = disabled
disable_dns_lookups = yes
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
default_process_limit = 100
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
in_flow_delay = 0
default_destination_concurrency_limit = 20
smtp_destination_concurrency_limit = 20
message_size_limit = 60000000
alias_maps =
alias_database =
local_recipient_maps =
biff = no
CF
  cat >"$dir/master.cf" <<CF
$listen inet n - n - - smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
tlsmgr    unix - - n 1000? 1 tlsmgr
CF
  postfix -c "$dir" check >/dev/null 2>&1 || true
  ip netns exec mxlab postfix -c "$dir" start >/dev/null 2>&1
  for _ in $(seq 1 100); do
    ip netns exec mxlab bash -c "exec 3<>/dev/tcp/${listen%:*}/${listen#*:}" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "postfix_lab: smtpd did not come up on $listen" >&2
  tail -20 "$dir/maillog" >&2 || true
  return 1
}
postfix_lab_stop() { ip netns exec mxlab postfix -c "$1" stop >/dev/null 2>&1 || true; }
postfix_lab_queue() { find "$1/queue/incoming" "$1/queue/active" "$1/queue/deferred" -type f 2>/dev/null | wc -l; }
