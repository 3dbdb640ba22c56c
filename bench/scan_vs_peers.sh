#!/usr/bin/env bash
# bench/scan_vs_peers.sh [BUILD_DIR] — the scan pipeline against SpamAssassin and Rspamd on the
# SpamAssassin public corpus, per core, in one run:
#   1. decoders alone (base64 scalar and AVX2, quoted-printable), GB per CPU-second;
#   2. MIME parsing and decoding alone over the whole corpus;
#   3. MIME + Debian's SpamAssassin rules compiled to Hyperscan, and 4. the full pipeline with
#      libclamav (an EICAR test database) and policy, each on the same first N messages the
#      peers get (SA_N for spamd, RS_N for Rspamd; --interleave order: ham and spam groups
#      alternate);
#   5. bench/peers/run.sh: spamd/spamc and Rspamd, network tests off, one scanning process each;
# then prints the ratios of messages and MB per CPU-second. Ours runs on one pinned CPU (CPU, default
# 1) and is measured with the thread's CPU clock; the peers' CPU is their daemons' utime+stime.
# Bounded: every run has a time cap. Needs the corpus (scripts/fetch-corpus is run first).
set -euo pipefail
B=${1:-build}
cd "$(dirname "$0")/.."
CPU=${CPU:-1}
SA_N=${SA_N:-200}
RS_N=${RS_N:-2000}
blob=$(mktemp /tmp/mx-sa-rules.XXXXXX); rm -f "$blob"
trap 'rm -f "$blob"' EXIT
field() { sed -nE "s/.*\"$1\":([0-9.]+).*/\1/p" | head -1; }

scripts/fetch-corpus >/dev/null
echo "# machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(date -u +%FT%TZ)"
echo "== decoders"
"$B/bench/bench_scan" --mode decode --cpu "$CPU"
echo "== MIME and decoding alone, whole corpus x3"
mime=$("$B/bench/bench_scan" --mode mime --repeat 3 --cpu "$CPU"); echo "$mime"
declare -A ours_rules ours_full ours_rules_mb ours_full_mb
for n in "$SA_N" "$RS_N"; do
  echo "== first $n messages: MIME + SpamAssassin rules (Hyperscan), then + libclamav + policy (x3 each, best)"
  best_r=0; best_f=0; mb_r=0; mb_f=0
  for _ in 1 2 3; do
    l=$("$B/bench/bench_scan" --mode rules --interleave --messages "$n" --rules-blob "$blob" --cpu "$CPU" --max-seconds 60 2>/dev/null); echo "$l"
    v=$(field msgs_per_cpu_s <<<"$l"); awk -v a="$v" -v b="$best_r" 'BEGIN{exit !(a>b)}' && { best_r=$v; mb_r=$(field mb_per_cpu_s <<<"$l"); }
    l=$("$B/bench/bench_scan" --mode full --interleave --messages "$n" --rules-blob "$blob" --cpu "$CPU" --max-seconds 60 2>/dev/null); echo "$l"
    v=$(field msgs_per_cpu_s <<<"$l"); awk -v a="$v" -v b="$best_f" 'BEGIN{exit !(a>b)}' && { best_f=$v; mb_f=$(field mb_per_cpu_s <<<"$l"); }
  done
  ours_rules[$n]=$best_r; ours_full[$n]=$best_f; ours_rules_mb[$n]=$mb_r; ours_full_mb[$n]=$mb_f
done
echo "== peers (bench/peers/run.sh)"
peers=$(bench/peers/run.sh --interleave --sa-messages "$SA_N" --rspamd-messages "$RS_N" | tee /dev/stderr | grep '^{' || true)
sa=$(grep '"peer":"spamassassin"' <<<"$peers" || true)
rs=$(grep '"peer":"rspamd"' <<<"$peers" || true)
echo "== ratios (per CPU-second)"
report() {  # peer-json n name
  local pj=$1 n=$2 name=$3
  if [[ -z $pj ]] || grep -q '"error"' <<<"$pj"; then echo "$name: not measured ($pj)"; return; fi
  local pm pmb
  pm=$(field msgs_per_cpu_s <<<"$pj"); pmb=$(field mb_per_cpu_s <<<"$pj")
  awk -v name="$name" -v n="$n" -v pm="$pm" -v pmb="$pmb" -v r="${ours_rules[$n]}" -v f="${ours_full[$n]}" \
      -v rmb="${ours_rules_mb[$n]}" -v fmb="${ours_full_mb[$n]}" 'BEGIN {
    printf "%s on %d messages: %.1f msgs/CPU-s, %.3f MB/CPU-s\n", name, n, pm, pmb
    printf "  mxgate MIME+rules: %.0f msgs/CPU-s (x%.1f), %.2f MB/CPU-s (x%.1f)\n", r, r/pm, rmb, rmb/pmb
    printf "  mxgate full pipeline: %.0f msgs/CPU-s (x%.1f), %.2f MB/CPU-s (x%.1f)\n", f, f/pm, fmb, fmb/pmb
  }'
}
report "$sa" "$SA_N" "SpamAssassin (spamd)"
report "$rs" "$RS_N" "Rspamd"
echo "goals: decoding >= 4 GB/s per core; full pipeline >= 30x Rspamd's messages per CPU-second"
