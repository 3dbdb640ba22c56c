#!/usr/bin/python3
"""Hostile SMTP clients for tests/e2e/gateway_hostile.sh, run inside the lab against
198.18.0.2:25. Every loop is bounded in count and time. Each mode prints one result line
(key=value ...) that the shell test asserts on.

  zerowindow SECONDS        EHLO, then stream HELP without ever reading (a tiny receive buffer:
                            the window closes); reports whether and when the server reset us
  idle N SECONDS            N connections that read the greeting and say nothing more
  slowdata N SECONDS BPS RCPT
                            N sessions in DATA, each trickling BPS bytes/s for SECONDS, then the
                            final dot; reports the final reply codes
  flooddata N BYTES RCPT    N sessions sending a BYTES message each, all at once
  rcptoverflow RCPTS RCPT   one transaction with RCPTS recipients pipelined with DATA
  rst STAGE COUNT RCPT      COUNT sessions reset (RST) at STAGE: mail, data, dot
  halfclose ERRORS          bad commands, NOOP, QUIT, then a half-close: every reply still comes
"""
import fcntl
import selectors
import socket
import struct
import sys
import termios
import time

HOST, PORT = "198.18.0.2", 25
GTUBE = b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"


def reply(f):
    """One (possibly multi-line) reply: (code, text)."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            return 0, b"".join(lines)
        lines.append(line)
        if line[3:4] != b"-":
            return int(line[:3]), b"".join(lines)


def session(rcpt, timeout=30):
    s = socket.create_connection((HOST, PORT), timeout=timeout)
    f = s.makefile("rb")
    reply(f)
    for cmd in (b"EHLO hostile.test", b"MAIL FROM:<h@sender.test>", b"RCPT TO:<" + rcpt.encode() + b">", b"DATA"):
        s.sendall(cmd + b"\r\n")
        code, text = reply(f)
    return s, f, code


def rst(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


def zerowindow(seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    s.settimeout(10)
    s.connect((HOST, PORT))
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO zero.test\r\n")
    reply(f)
    s.setblocking(False)
    chunk = b"HELP\r\n" * 1000
    sent, t0, how = 0, time.time(), "no reset"
    while time.time() - t0 < seconds:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.05)
        except (ConnectionResetError, BrokenPipeError) as e:
            how = "reset"
            break
        # A reset may come while our side is blocked: probe for it.
        try:
            if s.recv(1, socket.MSG_PEEK) == b"":
                how = "closed"
                break
        except BlockingIOError:
            pass
        except ConnectionResetError:
            how = "reset"
            break
    print("zerowindow result=%s after_s=%.1f sent=%d" % (how.replace(" ", "_"), time.time() - t0, sent), flush=True)


def idle(n, seconds):
    socks, greeted = [], 0
    for _ in range(n):
        try:
            s = socket.create_connection((HOST, PORT), timeout=10)
            socks.append(s)
        except OSError:
            break
    for s in socks:
        try:
            if s.recv(512).startswith(b"220"):
                greeted += 1
        except OSError:
            pass
    print("idle open=%d greeted=%d" % (len(socks), greeted), flush=True)
    time.sleep(seconds)
    for s in socks:
        s.close()


def slowdata(n, seconds, bps, rcpt):
    sessions = []
    for _ in range(n):
        try:
            s, f, code = session(rcpt)
        except OSError:
            continue
        if code == 354:
            s.setblocking(False)
            sessions.append((s, f))
    line = b"x" * 70 + b"\r\n"
    t0, per_tick = time.time(), max(1, bps // 10)
    buf = line * (per_tick // len(line) + 1)
    for s, _ in sessions:
        try:
            s.send(b"Subject: slow\r\n\r\n")
        except OSError:
            pass
    while time.time() - t0 < seconds:
        for s, _ in sessions:
            try:
                s.send(buf)
            except OSError:
                pass
        time.sleep(0.1)
    codes = {}
    for s, f in sessions:
        s.setblocking(True)
        s.settimeout(60)
        try:
            s.sendall(b"\r\n.\r\n")
            code, _ = reply(f)
        except OSError:
            code = 0
        codes[code] = codes.get(code, 0) + 1
        s.close()
    print("slowdata started=%d " % len(sessions) + " ".join("c%d=%d" % kv for kv in sorted(codes.items())), flush=True)


def flooddata(n, size, rcpt):
    sessions, codes = [], {}
    for _ in range(n):
        try:
            s, f, code = session(rcpt)
        except OSError:
            codes["connect"] = codes.get("connect", 0) + 1
            continue
        if code != 354:
            codes[code] = codes.get(code, 0) + 1
            s.close()
            continue
        sessions.append((s, f))
    body = b"Subject: flood\r\n\r\n" + (b"y" * 998 + b"\r\n") * (size // 1000)
    sel = selectors.DefaultSelector()
    pending = {}
    for s, f in sessions:
        s.setblocking(False)
        pending[s] = (memoryview(body + b".\r\n"), f)
        sel.register(s, selectors.EVENT_WRITE)
    t0 = time.time()
    while pending and time.time() - t0 < 120:
        for key, _ in sel.select(timeout=1):
            s = key.fileobj
            data, f = pending[s]
            try:
                k = s.send(data)
            except OSError:
                k = len(data)
            if k >= len(data):
                sel.unregister(s)
                del pending[s]
            else:
                pending[s] = (data[k:], f)
    for s, f in sessions:
        s.setblocking(True)
        s.settimeout(60)
        try:
            code, _ = reply(f)
        except OSError:
            code = 0
        codes[code] = codes.get(code, 0) + 1
        s.close()
    print("flooddata " + " ".join("c%s=%d" % kv for kv in sorted(codes.items(), key=str)), flush=True)


def rcptoverflow(n, rcpt):
    s = socket.create_connection((HOST, PORT), timeout=30)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO many.test\r\n")
    reply(f)
    local, domain = rcpt.split("@")
    cmds = b"MAIL FROM:<m@sender.test>\r\n" + b"".join(
        b"RCPT TO:<%s+%d@%s>\r\n" % (local.encode(), i, domain.encode()) for i in range(n)) + b"DATA\r\n"
    s.sendall(cmds)
    codes = {}
    for _ in range(n + 1):  # MAIL and every RCPT
        code, _ = reply(f)
        codes[code] = codes.get(code, 0) + 1
    code354, _ = reply(f)
    final = 0
    if code354 == 354:
        s.sendall(b"Subject: many recipients\r\n\r\nto all of you\r\n.\r\n")
        final, _ = reply(f)
    s.sendall(b"QUIT\r\n")
    reply(f)
    s.close()
    print("rcptoverflow " + " ".join("c%d=%d" % kv for kv in sorted(codes.items())) + " data=%d final=%d" % (code354, final),
          flush=True)


def reset_at(stage, count, rcpt):
    done = 0
    for i in range(count):
        try:
            if stage == "mail":
                s = socket.create_connection((HOST, PORT), timeout=30)
                f = s.makefile("rb")
                reply(f)
                s.sendall(b"EHLO rst.test\r\n")
                reply(f)
                s.sendall(b"MAIL FROM:<r@sender.test>\r\n")
                if reply(f)[0] != 250:
                    s.close()
                    continue
            else:
                s, f, code = session(rcpt)
                if code != 354:
                    s.close()
                    continue
                # GTUBE: spam, so the quarantine user's copy takes the quarantine path.
                s.sendall(b"Subject: reset %d\r\n\r\n" % i + GTUBE + b"\r\n" + (b"z" * 70 + b"\r\n") * 70)
                if stage == "dot":
                    s.sendall(b".\r\n")
                    # Once the server's TCP acknowledged every byte (the dot was read), reset
                    # at once or a little later: while it is scanned, written or relayed.
                    for _ in range(200):
                        if fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0\0\0\0") == b"\0\0\0\0":
                            break
                        time.sleep(0.01)
                    time.sleep(0.004 * (i % 8))
            rst(s)
            done += 1
        except OSError:
            pass
    print("rst stage=%s done=%d" % (stage, done), flush=True)


def halfclose(errors):
    """ERRORS bad commands, NOOP and QUIT in one write, then a half-close: every command must
    still get its reply (past the soft error limit they come slowly), the last one 221."""
    s = socket.create_connection((HOST, PORT), timeout=60)
    f = s.makefile("rb")
    reply(f)
    s.sendall(b"EHLO half.test\r\n")
    reply(f)
    s.sendall(b"BOGUS\r\n" * errors + b"NOOP\r\nQUIT\r\n")
    s.shutdown(socket.SHUT_WR)
    codes = []
    while True:
        code, _ = reply(f)
        if code == 0:
            break
        codes.append(code)
    print("halfclose replies=%d last=%d" % (len(codes), codes[-1] if codes else 0), flush=True)


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "zerowindow":
        zerowindow(float(args[0]))
    elif mode == "idle":
        idle(int(args[0]), float(args[1]))
    elif mode == "slowdata":
        slowdata(int(args[0]), float(args[1]), int(args[2]), args[3])
    elif mode == "flooddata":
        flooddata(int(args[0]), int(args[1]), args[2])
    elif mode == "rcptoverflow":
        rcptoverflow(int(args[0]), args[1])
    elif mode == "halfclose":
        halfclose(int(args[0]))
    elif mode == "rst":
        reset_at(args[0], int(args[1]), args[2])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
