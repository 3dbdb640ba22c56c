#!/usr/bin/python3
"""Linux's own TCP as the peer of mxgate's stack (run inside the lab namespace).

  tcp_peer.py discard BYTES          send BYTES to port 9, half-close, expect EOF back
  tcp_peer.py echo BYTES             round-trip BYTES of random data through port 7; SHA-256 compared
  tcp_peer.py serve PORT BYTES OUT   accept one connection, read to EOF, compare with the chargen
                                     pattern (RFC 864) of BYTES bytes by SHA-256, write a verdict to OUT
  tcp_peer.py many N                 N concurrent connections to echo, all open at once; each echoes
                                     its own message
  tcp_peer.py synflood N             N raw SYNs to port 7 from random ports (never completed), then
                                     a real connection must still be served (SYN cookies)
Every operation is bounded by timeouts; exit status 0 only when the check passed.
"""
import hashlib, os, random, resource, selectors, socket, struct, sys, threading, time

GW = "198.18.0.2"
DEADLINE = 240.0


def chargen(n):
    line, period = 74, 95
    out = bytearray()
    lines = [bytes(32 + (l + c) % period for c in range(72)) + b"\r\n" for l in range(period)]
    block = b"".join(lines)
    while len(out) < n:
        out += block
    return bytes(out[:n])


def discard(n):
    s = socket.create_connection((GW, 9), timeout=DEADLINE)
    buf = os.urandom(65536)
    sent, t = 0, time.time()
    while sent < n:
        k = min(len(buf), n - sent)
        s.sendall(buf[:k])
        sent += k
    s.shutdown(socket.SHUT_WR)
    eof = s.recv(16) == b""
    s.close()
    dt = time.time() - t
    print(f"discard: {n} bytes in {dt:.2f}s ({n * 8 / dt / 1e9:.2f} Gbit/s), eof={eof}")
    return eof


def echo(n):
    s = socket.create_connection((GW, 7), timeout=DEADLINE)
    data = os.urandom(n)
    want = hashlib.sha256(data).hexdigest()
    got, count = hashlib.sha256(), [0]

    def reader():
        while True:
            b = s.recv(262144)
            if not b:
                return
            got.update(b)
            count[0] += len(b)

    th = threading.Thread(target=reader)
    th.start()
    t = time.time()
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    th.join(DEADLINE)
    s.close()
    dt = time.time() - t
    ok = count[0] == n and got.hexdigest() == want
    print(f"echo: {count[0]}/{n} bytes back in {dt:.2f}s, sha256 {'matches' if ok else 'DIFFERS'}")
    return ok


def serve(port, n, out):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", port))
    ls.listen(4)
    ls.settimeout(DEADLINE)
    with open(out, "w") as f:
        f.write("listening\n")
    c, peer = ls.accept()
    c.settimeout(60)
    h, count = hashlib.sha256(), 0
    while True:
        b = c.recv(262144)
        if not b:
            break
        h.update(b)
        count += len(b)
    c.close()
    ok = count == n and h.hexdigest() == hashlib.sha256(chargen(n)).hexdigest()
    with open(out, "w") as f:
        f.write(f"{'ok' if ok else 'bad'} from {peer[0]} bytes={count} sha256={h.hexdigest()}\n")
    return ok


def many(n):
    resource.setrlimit(resource.RLIMIT_NOFILE, (n + 256, n + 256))
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex((GW, 7))
        socks.append(s)
        sel.register(s, selectors.EVENT_WRITE, i)
    msg = {i: f"connection {i} says hello {os.urandom(8).hex()}\n".encode() for i in range(n)}
    got = {i: b"" for i in range(n)}
    connected, done = 0, 0
    end = time.time() + DEADLINE
    while done < n and time.time() < end:
        for key, ev in sel.select(timeout=1):
            i, s = key.data, key.fileobj
            if ev & selectors.EVENT_WRITE:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    print(f"many: connection {i} failed")
                    return False
                connected += 1
                sel.modify(s, selectors.EVENT_READ, i)
                # Every connection is open before anyone talks: then all say hello at once.
                if connected == n:
                    for j, t in enumerate(socks):
                        t.send(msg[j])
            else:
                b = s.recv(4096)
                got[i] += b
                if got[i] == msg[i]:
                    done += 1
                    sel.unregister(s)
    ok = done == n
    for s in socks:
        s.close()
    print(f"many: {connected}/{n} connected at once, {done}/{n} echoed correctly")
    return ok


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def synflood(n):
    src, dst = socket.inet_aton("198.18.0.1"), socket.inet_aton(GW)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)  # kernel adds the IP header
    rng = random.Random(7)
    t = time.time()
    for i in range(n):
        sport = rng.randrange(1024, 65535)
        seq = rng.randrange(0, 1 << 32)
        hdr = struct.pack("!HHIIBBHHH", sport, 7, seq, 0, 5 << 4, 0x02, 65535, 0, 0)
        pseudo = src + dst + struct.pack("!BBH", 0, 6, len(hdr))
        hdr = hdr[:16] + struct.pack("!H", csum(pseudo + hdr)) + hdr[18:]
        raw.sendto(hdr, (GW, 0))
    raw.close()
    print(f"synflood: {n} SYNs sent in {time.time() - t:.2f}s")
    s = socket.create_connection((GW, 7), timeout=10)
    s.sendall(b"still here\n")
    ok = s.recv(64) == b"still here\n"
    s.close()
    print(f"synflood: a real connection after the flood was {'served' if ok else 'NOT served'}")
    return ok


def main():
    cmd = sys.argv[1]
    if cmd == "discard":
        ok = discard(int(sys.argv[2]))
    elif cmd == "echo":
        ok = echo(int(sys.argv[2]))
    elif cmd == "serve":
        ok = serve(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif cmd == "many":
        ok = many(int(sys.argv[2]))
    elif cmd == "synflood":
        ok = synflood(int(sys.argv[2]))
    else:
        print(__doc__)
        ok = False
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
