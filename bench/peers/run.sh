#!/usr/bin/env bash
# bench/peers/run.sh — throughput of SpamAssassin (spamd) and Rspamd on the same messages.
#
#   bench/peers/run.sh [--messages N] [--sa-messages N] [--rspamd-messages N] [--dir DIR]
#                      [--only spamassassin|rspamd] [--max-seconds S] [--parallel P]
#                      [--warmup W] [--interleave] [--results-dir D] [--keep]
#
# Each daemon is started here, on 127.0.0.1 and a free port, from a private temp dir, with one
# scanning process (so the numbers are per core) and network tests off; it is stopped by PID
# when its run ends (and by the EXIT trap otherwise). Prints one JSON line per peer on stdout;
# every other stdout line starts with "#". Exits non-zero when a peer could not be measured.
# See bench/peers/README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3

dir=$repo/var/corpus/sa
sa_n=200
rs_n=2000
only=""
max_seconds=300
parallel=1
warmup=5
results_dir=""
ready_timeout=180
keep=0
order=path

usage() { sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
while (($#)); do
  case $1 in
    --messages) sa_n=$2; rs_n=$2; shift 2 ;;
    --sa-messages) sa_n=$2; shift 2 ;;
    --rspamd-messages) rs_n=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --max-seconds) max_seconds=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --results-dir) results_dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --interleave) order=interleave; shift ;;
    -h|--help) usage ;;
    *) echo "run.sh: unknown argument $1" >&2; usage ;;
  esac
done
case $only in ""|spamassassin|rspamd) ;; *) echo "run.sh: --only spamassassin|rspamd" >&2; exit 2 ;; esac
for v in "$sa_n" "$rs_n" "$max_seconds" "$parallel" "$warmup"; do
  [[ $v =~ ^[0-9]+$ ]] || { echo "run.sh: not a number: $v" >&2; exit 2; }
done
[[ $EUID -eq 0 ]] || { echo "run.sh: run as root (installs packages, runs the daemons)" >&2; exit 2; }
if [[ ! -d $dir ]]; then
  echo "run.sh: no corpus at $dir (run scripts/fetch-corpus)" >&2
  exit 2
fi
[[ -z $results_dir ]] || mkdir -p "$results_dir"

want_sa=1; want_rs=1
[[ $only == rspamd ]] && want_sa=0
[[ $only == spamassassin ]] && want_rs=0

# ---------------------------------------------------------------- packages
# PIDs of daemons a package might have started: spamd, rspamd, and the gpg-agent that
# spamassassin's postinst starts when it imports the sa-update signing key.
daemon_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null) || continue
    case $cmd in
      *"/usr/sbin/spamd"*|"rspamd:"*|"/usr/bin/rspamd"*|"gpg-agent --homedir /var/lib/spamassassin"*) echo "${p#/proc/}" ;;
    esac
  done
}

ensure_packages() {
  local pkgs=() missing=() p st before made_policy=0
  ((want_sa)) && pkgs+=(spamassassin spamd spamc)
  ((want_rs)) && pkgs+=(rspamd)
  for p in "${pkgs[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $st == "install ok installed" ]] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  echo "# installing ${missing[*]}"
  before=" $(daemon_pids | tr '\n' ' ') "
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  local rc=0
  {
    DEBIAN_FRONTEND=noninteractive timeout 900 apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } >&2 || rc=$?
  ((made_policy)) && rm -f /usr/sbin/policy-rc.d
  # Anything the packages started despite the policy: stop it, by PID.
  for p in $(daemon_pids); do
    [[ $before == *" $p "* ]] && continue
    echo "# stopping $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-80) (pid $p), started by the package install"
    kill "$p" 2>/dev/null || true
  done
  return $rc
}

# ---------------------------------------------------------------- daemons and cleanup
tmp=$(mktemp -d "${TMPDIR:-/tmp}/mxgate-peers.XXXXXX")
wrappers=()  # PIDs of the `timeout` wrappers, each the parent of one daemon
pidfiles=()

descendants() { # PIDs under $1 (not $1 itself)
  local kids k
  kids=$(ps -o pid= --ppid "$1" 2>/dev/null || true)
  for k in $kids; do echo "$k"; descendants "$k"; done
}

stop_daemon() { # $1 = wrapper PID, $2 = daemon pidfile (rspamd -f writes none)
  local w=$1 pf=$2 tree d i
  kill -0 "$w" 2>/dev/null || { wait "$w" 2>/dev/null || true; return 0; }
  tree=$(descendants "$w")
  d=$(cat "$pf" 2>/dev/null || true)
  [[ $d =~ ^[0-9]+$ && " $(echo $tree) " == *" $d "* ]] || d=$(ps -o pid= --ppid "$w" 2>/dev/null | head -n 1 | tr -d ' ')
  if [[ -n $d ]]; then
    kill -TERM "$d" 2>/dev/null || true
  else
    kill -TERM "$w" 2>/dev/null || true  # timeout passes the signal on to the daemon
  fi
  for ((i = 0; i < 100; i++)); do kill -0 "$w" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$w" 2>/dev/null; then kill -TERM "$w" 2>/dev/null || true; fi
  for ((i = 0; i < 50; i++)); do kill -0 "$w" 2>/dev/null || break; sleep 0.1; done
  for d in $w $tree; do
    if kill -0 "$d" 2>/dev/null; then kill -KILL "$d" 2>/dev/null || true; fi
  done
  wait "$w" 2>/dev/null || true
}

cleanup() {
  local i
  for i in "${!wrappers[@]}"; do stop_daemon "${wrappers[$i]}" "${pidfiles[$i]}"; done
  if ((keep)); then echo "# kept $tmp (configs and daemon logs)"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  $PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

status=0
json_error() { # peer, message
  $PY -c 'import json, sys; print(json.dumps({"peer": sys.argv[1], "error": sys.argv[2]}, separators=(",", ":")))' "$1" "$2"
  status=1
}

client() { # peer port wrapper-pid messages version cmd [client args...]
  local peer=$1 port=$2 pid=$3 n=$4 ver=$5 cmd=$6 out rc=0
  shift 6
  local extra=()
  [[ -z $results_dir ]] || extra+=(--results "$results_dir/$peer.tsv")
  out=$($PY "$here/client.py" --peer "$peer" --port "$port" --pid "$pid" --dir "$dir" \
    --messages "$n" --order "$order" --warmup "$warmup" --parallel "$parallel" --max-seconds "$max_seconds" \
    --ready-timeout "$ready_timeout" --version "$ver" --flags "$cmd" "${extra[@]}" "$@") || rc=$?
  [[ -z $out ]] || printf '%s\n' "$out"
  if ((rc)); then
    status=1
    grep -q '^{' <<<"$out" || json_error "$peer" "client failed (exit $rc)"
  fi
}

run_spamassassin() {
  local d=$tmp/sa port ver cmd w
  mkdir -p "$d/site" "$d/home"
  # Debian's site config (plugin .pre files, 65_debian.cf) without the local.cf, plus ours.
  cp /etc/spamassassin/*.pre "$d/site/"
  cp /etc/spamassassin/*.cf "$d/site/" 2>/dev/null || true
  rm -f "$d/site/local.cf"
  cat >"$d/site/local.cf" <<'EOF'
# bench/peers: local tests only, no Bayes, no learning
use_bayes 0
bayes_auto_learn 0
dns_available no
skip_rbl_checks 1
EOF
  chmod 755 "$tmp" "$d" "$d/site"; chmod 644 "$d/site/"*; chown nobody "$d/home"
  port=$(free_port)
  ver=$(spamd --version 2>/dev/null | head -n 1 || true)
  local args=(-L -x -u nobody -H "$d/home" -m 1 --min-children 1 --min-spare 1 --max-spare 1
    -i "127.0.0.1:$port" -A 127.0.0.1 -r "$d/spamd.pid" -C /usr/share/spamassassin
    --siteconfigpath "$d/site" -s "$d/spamd.log")
  cmd="spamd ${args[*]}"
  echo "# spamassassin: $cmd"
  timeout -k 10 $((max_seconds + ready_timeout + 600)) spamd "${args[@]}" >"$d/stdout" 2>&1 &
  w=$!
  wrappers+=("$w"); pidfiles+=("$d/spamd.pid")
  client spamassassin "$port" "$w" "$sa_n" "$ver" "$cmd"
  if ! kill -0 "$w" 2>/dev/null; then echo "# spamd exited; its output:"; sed 's/^/# /' "$d/stdout" | tail -n 5; fi
  stop_daemon "$w" "$d/spamd.pid"
}

run_rspamd() {
  local d=$tmp/rs port ver cmd w m
  mkdir -p "$d/conf/local.d" "$d/db" "$d/run" "$d/log" "$d/tmp"
  port=$(free_port)
  # Debian's stock config (CONFDIR=/etc/rspamd: rules, modules, scores), but our own top-level
  # file: one normal worker, no controller/proxy/fuzzy workers; local.d in the temp dir.
  cat >"$d/conf/rspamd.conf" <<EOF
.include "\$CONFDIR/common.conf"
options {
  pidfile = "\$RUNDIR/rspamd.pid";
  .include "\$CONFDIR/options.inc"
  .include(try=true; priority=1,duplicate=merge) "\$LOCAL_CONFDIR/local.d/options.inc"
}
logging {
  type = "file";
  filename = "\$LOGDIR/rspamd.log";
  .include "\$CONFDIR/logging.inc"
}
worker "normal" {
  bind_socket = "127.0.0.1:$port";
  count = 1;
  mime = true;
}
EOF
  # DNS goes to a closed loopback port (queries fail at once: connection refused), so nothing
  # leaves the machine; the maps on maps.rspamd.com are then never fetched (their rules see
  # empty maps).
  cat >"$d/conf/local.d/options.inc" <<EOF
dns { nameserver = ["127.0.0.1:1"]; timeout = 0.05s; retransmits = 1; }
tempdir = "$d/tmp";
EOF
  # Modules that query DNS, Redis or remote services: off. Of hfilter only the checks that
  # resolve names go (HELO, hostname, From domain); phishing keeps its local checks, without
  # the phishtank DNS lookups; once_received looks up PTR records.
  for m in rbl surbl emails fuzzy_check neural ratelimit greylist replies reputation \
    url_redirector dkim_signing arc dmarc spf dkim asn dcc mx_check history_redis \
    rspamd_update external_services antivirus clickhouse elastic metadata_exporter p0f \
    once_received; do
    echo 'enabled = false;' >"$d/conf/local.d/$m.conf"
  done
  printf 'helo_enabled = false;\nhostname_enabled = false;\nfrom_enabled = false;\n' >"$d/conf/local.d/hfilter.conf"
  echo 'phishtank_enabled = false;' >"$d/conf/local.d/phishing.conf"
  ver=$(rspamd --version 2>/dev/null | head -n 1 || true)
  local args=(-f -u root -g root -i -c "$d/conf/rspamd.conf" --var "CONFDIR=/etc/rspamd"
    --var "LOCAL_CONFDIR=$d/conf" --var "DBDIR=$d/db" --var "RUNDIR=$d/run" --var "LOGDIR=$d/log")
  cmd="rspamd ${args[*]}"
  echo "# rspamd: $cmd"
  timeout -k 10 $((max_seconds + ready_timeout + 600)) rspamd "${args[@]}" >"$d/stdout" 2>&1 &
  w=$!
  wrappers+=("$w"); pidfiles+=("$d/run/rspamd.pid")
  client rspamd "$port" "$w" "$rs_n" "$ver" "$cmd" --log "$d/log/rspamd.log"
  if ! kill -0 "$w" 2>/dev/null; then echo "# rspamd exited; its output:"; sed 's/^/# /' "$d/stdout" "$d/log/rspamd.log" | tail -n 5; fi
  stop_daemon "$w" "$d/run/rspamd.pid"
}

if ! ensure_packages; then
  ((want_sa)) && json_error spamassassin "package install failed"
  ((want_rs)) && json_error rspamd "package install failed"
  exit 1
fi
if ((want_sa)); then
  if command -v spamd >/dev/null && command -v spamc >/dev/null; then run_spamassassin
  else json_error spamassassin "spamd/spamc not installed"; fi
fi
if ((want_rs)); then
  if command -v rspamd >/dev/null; then run_rspamd
  else json_error rspamd "rspamd not installed"; fi
fi
exit $status
