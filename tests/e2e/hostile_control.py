#!/usr/bin/python3
"""Hostile peers against mxgate-control (tests/e2e/control_push.sh runs it):
   usage: hostile_control.py NODE_SOCKET API_SOCKET CONTROL_PID GENERATION

 - a node connection that announces a 512 MiB snapshot before hello is closed at once, without
   control buffering it;
 - a node that floods pings and never reads does not make control queue answers;
 - 2,000 API requests pipelined without reading the answers (each answer with a whole snapshot
   document) do not make control build them all.
Each case prints "ok CASE" or "FAIL CASE: why"; control's RSS growth is read from /proc."""
import socket
import struct
import sys
import time

node_sock, api_sock, pid, gen = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
fails = 0


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def header(ftype, length, seq=0):
    return b"MXIP" + struct.pack(">HHIIQ", 1, ftype, length, 0, seq)


def result(name, ok, why=""):
    global fails
    if ok:
        print(f"ok {name}")
    else:
        fails += 1
        print(f"FAIL {name}: {why}")


def closed_by_peer(s, seconds):
    s.settimeout(seconds)
    try:
        return s.recv(1) == b""
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


# 1. A 512 MiB snapshot announced before hello, then 8 MiB of its payload.
before = rss_kib()
s = socket.socket(socket.AF_UNIX)
s.connect(node_sock)
s.sendall(header(2, 512 << 20))
sent = 0
try:
    s.settimeout(2)
    chunk = b"x" * 65536
    while sent < (8 << 20):
        sent += s.send(chunk)
except (BrokenPipeError, ConnectionResetError, socket.timeout):
    pass
result("snapshot-before-hello closed", closed_by_peer(s, 3), "the connection stayed open")
grow = rss_kib() - before
result("snapshot-before-hello not buffered", grow < 16 * 1024, f"control grew {grow} KiB")
s.close()

# 2. Hello, then a flood of pings without reading a single pong.
before = rss_kib()
s = socket.socket(socket.AF_UNIX)
s.connect(node_sock)
s.sendall(header(1, 7, 0) + b"flooder")
s.setblocking(False)
ping = header(7, 0, 1) * 4096
flooded = 0
end = time.time() + 3
while time.time() < end:
    try:
        flooded += s.send(ping)
    except BlockingIOError:
        time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        break
time.sleep(0.5)
grow = rss_kib() - before
result("ping flood bounded", grow < 16 * 1024, f"control grew {grow} KiB after {flooded} bytes of pings")
print(f"  ping flood: {flooded} bytes sent, control RSS +{grow} KiB")
s.close()

# 3. Pipelined API requests for a big generation (about 1 MB), answers never read.
before = rss_kib()
s = socket.socket(socket.AF_UNIX)
s.connect(api_sock)
s.setblocking(False)
req = f"GET /v1/generations/{gen} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode() * 2000
off = 0
end = time.time() + 3
while off < len(req) and time.time() < end:
    try:
        off += s.send(req[off:])
    except BlockingIOError:
        time.sleep(0.01)
    except (BrokenPipeError, ConnectionResetError):
        break
time.sleep(0.5)
grow = rss_kib() - before
result("pipelined API bounded", grow < 16 * 1024, f"control grew {grow} KiB after {off} bytes of requests")
print(f"  pipelined: {off} bytes of requests sent, control RSS +{grow} KiB")
s.close()

# Control still answers.
s = socket.socket(socket.AF_UNIX)
s.connect(api_sock)
s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
s.settimeout(5)
answer = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        answer += d
except socket.timeout:
    pass
result("control still answers", answer.startswith(b"HTTP/1.1 200"), repr(answer[:80]))
sys.exit(1 if fails else 0)
