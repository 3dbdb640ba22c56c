#!/usr/bin/env bash
# SIGINT and SIGTERM both stop mxgate cleanly with exit status 0 (and, in the sanitizer build,
# no leak report: LeakSanitizer would turn the exit status non-zero).
source "$(dirname "$0")/lib.sh"
trap lab_down_quiet EXIT
for sig in INT TERM; do
  lab_down_quiet
  "$LAB" up >/dev/null
  pid=$(<"$MXLAB_STATE/mxgate.pid")
  kill -"$sig" "$pid"
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  check "SIG$sig: mxgate stopped" bash -c "! kill -0 $pid 2>/dev/null"
  rc=0; out=$("$LAB" down 2>&1) || rc=$?
  check "SIG$sig: exit status 0" grep -q 'exited with status 0' <<<"$out"
  check "SIG$sig: counters printed" grep -q '^mxgate: counters lcore=' "$LOG"
  check "SIG$sig: no sanitizer report" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$LOG'"
done
finish
