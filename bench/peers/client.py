#!/usr/bin/python3
"""bench/peers/client.py — send messages to one scanning daemon and print one JSON line.

Used by bench/peers/run.sh (which starts and stops the daemons); usable alone against a daemon
that is already running. Steps: wait until the daemon answers (bounded), send --warmup messages
that are not counted, sample the CPU time of the daemon's process tree, send the messages, sample
again, print {"peer": ..., "cpu_s": ..., ...} on stdout. Progress notes go to stdout as "# ..."
lines; nothing else is printed on stdout.

CPU time of a tree: for the root PID and every live descendant (found by walking /proc/*/stat
for parent PIDs), utime + stime + cutime + cstime from /proc/<pid>/stat. utime/stime cover every
thread of a process; cutime/cstime hold the time of children it has already reaped (spamd
respawns its children), so the sum stays correct while processes come and go.

Peers:
  spamassassin  one `spamc -x -c` per message (exit 1 = spam, 0 = ham, other = error); readiness
                by the SPAMC protocol's PING.
  rspamd        HTTP POST /checkv2 (one connection per message); spam = action reject,
                "add header" or "rewrite subject"; readiness by GET /ping and, when --log is
                given, the normal worker's "hyperscan database ... has been loaded" line.
"""
import argparse
import http.client
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

TICK = os.sysconf("SC_CLK_TCK")
SPAM_ACTIONS = {"reject", "add header", "rewrite subject"}


def note(msg):
    print("# " + msg, flush=True)


def proc_stats():
    """pid -> (ppid, utime + stime + cutime + cstime in ticks) for every process."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name, "rb") as f:
                data = f.read()
        except OSError:
            continue
        rest = data[data.rindex(b")") + 2:].split()  # the command name may hold spaces and ')'
        # rest[0] is field 3 (state); field n is rest[n - 3]
        out[int(name)] = (int(rest[1]), int(rest[11]) + int(rest[12]) + int(rest[13]) + int(rest[14]))
    return out


def tree_cpu(root):
    """(CPU seconds of root and its live descendants, number of processes)."""
    stats = proc_stats()
    if root not in stats:
        return None, 0
    children = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    todo, seen, ticks = [root], set(), 0
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in stats:
            continue
        seen.add(pid)
        ticks += stats[pid][1]
        todo.extend(children.get(pid, ()))
    return ticks / TICK, len(seen)


def pick_files(top, n, order):
    """The first n .eml files under top. order "path": sorted by relative path, as bench_scan
    (bench/scan_corpus.cc) picks them (easy-ham-1/00001.eml ... easy-ham-1/02500.eml,
    easy-ham-2/...). order "interleave": by file name, then subset, so the subsets alternate
    (easy-ham-1/00001.eml, easy-ham-2/00001.eml, ..., spam-2/00001.eml, .../00002.eml, ...)."""
    found = []
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if not x.startswith(".")]
        for f in files:
            if f.endswith(".eml"):
                rel = os.path.relpath(os.path.join(d, f), top)
                found.append((f, rel) if order == "interleave" else (rel, rel))
    found.sort(key=lambda t: (t[0].encode(), t[1].encode()))  # byte order, like std::sort on paths
    return [os.path.join(top, rel) for _, rel in found[:n]]


def alive(pid):
    return pid is None or os.path.exists("/proc/%d" % pid)


# ---------------------------------------------------------------- spamassassin (spamd/spamc)

def sa_ping(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.sendall(b"PING SPAMC/1.5\r\n\r\n")
            s.settimeout(5)
            return b"PONG" in s.recv(256)
    except OSError:
        return False


def sa_check(host, port, path, timeout):
    """(is_spam, score) or raises."""
    with open(path, "rb") as f:
        p = subprocess.run(["spamc", "-x", "-c", "-t", str(int(timeout)), "-s", str(64 << 20),
                            "-d", host, "-p", str(port)], stdin=f, capture_output=True,
                           timeout=timeout + 30)
    if p.returncode not in (0, 1):
        raise RuntimeError("spamc exit %d: %s" % (p.returncode, p.stderr.decode(errors="replace").strip()[:200]))
    m = re.match(rb"\s*(-?[0-9.]+)/(-?[0-9.]+)", p.stdout)
    if not m:
        raise RuntimeError("spamc output %r" % p.stdout[:80])
    return p.returncode == 1, float(m.group(1))


# ---------------------------------------------------------------- rspamd (HTTP /checkv2)

def rs_ping(host, port):
    try:
        c = http.client.HTTPConnection(host, port, timeout=2)
        c.request("GET", "/ping")
        r = c.getresponse()
        ok = r.status == 200 and b"pong" in r.read()
        c.close()
        return ok
    except (OSError, http.client.HTTPException):
        return False


def rs_check(host, port, path, timeout):
    with open(path, "rb") as f:
        body = f.read()
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("POST", "/checkv2", body=body, headers={"Content-Type": "application/octet-stream"})
        r = c.getresponse()
        data = r.read()
    finally:
        c.close()
    if r.status != 200:
        raise RuntimeError("HTTP %d: %s" % (r.status, data[:200]))
    j = json.loads(data)
    if "action" not in j:
        raise RuntimeError("no action in reply: %s" % data[:200])
    return j["action"] in SPAM_ACTIONS, float(j.get("score", 0.0)), j["action"]


# The normal worker loaded the database hs_helper compiled; or hs_helper found every expression
# cached already ("compiled 0 regular expressions"), then the worker loaded it at start.
HS_READY = re.compile(r"\(normal\).*hyperscan database of \d+ regexps has been loaded"
                      r"|\(hs_helper\).*compiled 0 regular expressions to the hyperscan tree")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--peer", required=True, choices=["spamassassin", "rspamd"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, help="root of the daemon's process tree (for CPU time)")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--messages", type=int, required=True)
    ap.add_argument("--order", choices=["path", "interleave"], default="path")
    ap.add_argument("--warmup", type=int, default=5, help="messages sent first, not counted")
    ap.add_argument("--parallel", type=int, default=1, help="requests in flight (1..16)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds per message")
    ap.add_argument("--max-seconds", type=float, default=300, help="cap on the measured run")
    ap.add_argument("--ready-timeout", type=float, default=120)
    ap.add_argument("--log", help="rspamd log file to watch for the hyperscan database")
    ap.add_argument("--version", default="")
    ap.add_argument("--flags", default="", help="daemon command line, copied into the JSON")
    ap.add_argument("--results", help="write <file> <verdict> <score> per message to this TSV")
    a = ap.parse_args()
    a.parallel = max(1, min(16, a.parallel))

    res = {"peer": a.peer, "version": a.version}

    def fail(msg):
        res["error"] = msg
        print(json.dumps(res, separators=(",", ":")), flush=True)
        sys.exit(1)

    files = pick_files(a.dir, a.messages, a.order)
    if not files:
        fail("no .eml files under %s (run scripts/fetch-corpus)" % a.dir)
    ping = sa_ping if a.peer == "spamassassin" else rs_ping
    check = sa_check if a.peer == "spamassassin" else rs_check

    # Ready: answers a ping (and, for rspamd, has loaded its hyperscan database).
    t0 = time.monotonic()
    while not ping(a.host, a.port):
        if not alive(a.pid):
            fail("daemon exited before it was ready")
        if time.monotonic() - t0 > a.ready_timeout:
            fail("not ready after %.0f s" % a.ready_timeout)
        time.sleep(0.5)
    if a.log:
        hs = False
        while time.monotonic() - t0 < a.ready_timeout and alive(a.pid):
            try:
                with open(a.log, errors="replace") as f:
                    hs = any(HS_READY.search(line) for line in f)
            except OSError:
                pass
            if hs:
                break
            time.sleep(0.5)
        if not hs:
            note("%s: no hyperscan-loaded line in %s after %.0f s; measuring anyway" % (a.peer, a.log, a.ready_timeout))
    note("%s: ready after %.1f s" % (a.peer, time.monotonic() - t0))

    for path in files[:a.warmup]:
        try:
            check(a.host, a.port, path, a.timeout)
        except Exception as e:  # noqa: BLE001 — warm-up errors are only reported
            note("%s: warm-up error on %s: %s" % (a.peer, path, e))

    lock = threading.Lock()
    stats = {"messages": 0, "bytes": 0, "spam": 0, "errors": 0, "actions": {}, "by_subset": {}}
    every = max(100, len(files) // 5)
    results = []
    deadline = time.monotonic() + a.max_seconds
    err_notes = [0]

    def one(path):
        if time.monotonic() > deadline:
            return
        size = os.path.getsize(path)
        try:
            r = check(a.host, a.port, path, a.timeout)
            err = None
        except Exception as e:  # noqa: BLE001 — per-message errors are counted, not fatal
            r, err = None, e
        with lock:
            stats["messages"] += 1
            stats["bytes"] += size
            rel = os.path.relpath(path, a.dir)
            sub = stats["by_subset"].setdefault(os.path.dirname(rel) or ".", {"messages": 0, "spam": 0})
            sub["messages"] += 1
            if err is not None:
                stats["errors"] += 1
                if err_notes[0] < 5:
                    err_notes[0] += 1
                    note("%s: error on %s: %s" % (a.peer, rel, err))
                results.append((rel, "error", ""))
                return
            stats["spam"] += int(r[0])
            sub["spam"] += int(r[0])
            if len(r) > 2:
                stats["actions"][r[2]] = stats["actions"].get(r[2], 0) + 1
            results.append((rel, "spam" if r[0] else "ham", "%.2f" % r[1]))
            if stats["messages"] % every == 0:
                note("%s: %d/%d" % (a.peer, stats["messages"], len(files)))

    cpu0, nproc = tree_cpu(a.pid) if a.pid else (None, 0)
    w0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=a.parallel) as ex:
        list(ex.map(one, files))
    wall = time.monotonic() - w0
    cpu1, _ = tree_cpu(a.pid) if a.pid else (None, 0)

    n, b = stats["messages"], stats["bytes"]
    res.update({"messages": n, "bytes": b, "order": a.order, "parallel": a.parallel, "warmup": a.warmup})
    if cpu0 is not None and cpu1 is not None:
        cpu = cpu1 - cpu0
        res["cpu_s"] = round(cpu, 2)
        res["server_processes"] = nproc
        res["msgs_per_cpu_s"] = round(n / cpu, 2) if cpu > 0 else None
        res["mb_per_cpu_s"] = round(b / 1e6 / cpu, 3) if cpu > 0 else None
    res["wall_s"] = round(wall, 2)
    res["msgs_per_s"] = round(n / wall, 2) if wall > 0 else None
    res["mb_per_s"] = round(b / 1e6 / wall, 3) if wall > 0 else None
    res["spam_verdicts"] = stats["spam"]
    res["errors"] = stats["errors"]
    if stats["actions"]:
        res["actions"] = stats["actions"]
    res["by_subset"] = stats["by_subset"]
    if n < len(files):
        res["truncated_at_max_seconds"] = a.max_seconds
    if a.flags:
        res["cmd"] = a.flags
    if a.results:
        with open(a.results, "w") as f:
            for row in sorted(results):
                f.write("\t".join(row) + "\n")
    if a.pid and not alive(a.pid):
        res["error"] = "daemon exited during the run"
    print(json.dumps(res, separators=(",", ":")), flush=True)
    sys.exit(1 if "error" in res else 0)


if __name__ == "__main__":
    main()
