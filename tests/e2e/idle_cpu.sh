#!/usr/bin/env bash
# An idle gateway in adaptive mode backs off instead of spinning: over an idle window it uses
# well under one core. A busy-polling lcore would use a whole core (100% of the window), so this
# check cannot pass by accident; machine load can only lower mxgate's share, never raise it.
source "$(dirname "$0")/lib.sh"
trap lab_down_quiet EXIT
lab_down_quiet
"$LAB" up >/dev/null
pid=$(<"$MXLAB_STATE/mxgate.pid")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
t0=$(ticks "$pid"); s0=$(date +%s%N)
sleep 3
t1=$(ticks "$pid"); s1=$(date +%s%N)
used_pct=$(( (t1 - t0) * 100 * 1000000000 / hz / (s1 - s0) ))
say "idle mxgate used ${used_pct}% of one core over $(( (s1 - s0) / 1000000 )) ms"
check "idle CPU below 50% of one core" lt "$used_pct" 50
"$LAB" down >/dev/null
check "idle back-off sleeps were taken" ge "$(grep -o ' idle_sleeps=[0-9]*' "$LOG" | cut -d= -f2 | head -1)" 1
finish
