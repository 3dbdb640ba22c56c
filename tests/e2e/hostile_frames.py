#!/usr/bin/env python3
"""Sends malformed frames from the lab's kernel side (mxtap0) to the data plane.

Usage: hostile_frames.py GW_MAC N   (run inside namespace mxlab)
Sends N frames of each malformed kind below plus N random frames, then prints one line
"kind=count" per kind so that the caller can compare with mxgate's drop counters.
Traffic stays on mxtap0 inside the lab namespace; the loop is bounded by N.
"""
import os
import random
import socket
import struct
import sys
import time


def csum(b: bytes) -> int:
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, opts=b"", frag=0, ihl=None, total=None, bad_csum=False, version=4):
    hl = 20 + len(opts)
    h = struct.pack("!BBHHHBBH4s4s", (version << 4) | ((ihl if ihl is not None else hl // 4) & 0xF), 0,
                    total if total is not None else hl + len(payload), 0x4242, frag, 64, proto, 0,
                    socket.inet_aton(src), socket.inet_aton(dst)) + opts
    c = csum(h) ^ (0x0101 if bad_csum else 0)
    return h[:10] + struct.pack("!H", c) + h[12:] + payload


def icmp_echo(seq, data=b"hostile", bad_csum=False):
    m = struct.pack("!BBHHH", 8, 0, 0, 0x4d58, seq) + data
    c = csum(m) ^ (0x0101 if bad_csum else 0)
    return m[:2] + struct.pack("!H", c) + m[4:]


def main():
    gw = bytes.fromhex(sys.argv[1].replace(":", ""))
    n = int(sys.argv[2])
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind(("mxtap0", 0))
    me = s.getsockname()[4][:6]
    src, dst = "198.18.0.1", "198.18.0.2"
    eth = lambda d, t, p: d + me + struct.pack("!H", t) + p  # noqa: E731
    good_icmp = icmp_echo(1)
    kinds = {
        "ipv4_drop_checksum": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp, bad_csum=True)),
        "ipv4_drop_ihl": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp, ihl=3)),
        "ipv4_drop_version": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp, version=6)),
        "ipv4_drop_total_len": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp, total=1400)),
        "ipv4_drop_fragment": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp, frag=0x2000)),
        "ipv4_drop_bad_options": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp, opts=b"\x44\x00\x00\x00")),
        "ipv4_drop_source_route": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, good_icmp,
                                                                    opts=b"\x83\x07\x04\xc6\x12\x00\x09\x00")),
        "ipv4_drop_bad_src": lambda i: eth(gw, 0x0800, ipv4("127.0.0.1", dst, 1, good_icmp)),
        "ipv4_drop_not_for_us": lambda i: eth(gw, 0x0800, ipv4(src, "198.18.0.77", 1, good_icmp)),
        "ipv4_drop_unknown_proto": lambda i: eth(gw, 0x0800, ipv4(src, dst, 132, b"\0" * 12)),
        "icmp_drop_checksum": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, icmp_echo(i, bad_csum=True))),
        "icmp_drop_short": lambda i: eth(gw, 0x0800, ipv4(src, dst, 1, b"\x08\x00\x00")),
        "icmp_drop_broadcast_echo": lambda i: eth(b"\xff" * 6, 0x0800, ipv4(src, "198.18.0.255", 1, icmp_echo(i))),
        "arp_drop_malformed": lambda i: eth(b"\xff" * 6, 0x0806, b"\x00\x01\x08\x00\x06\x04\x00"),
        "arp_drop_bad_op": lambda i: eth(b"\xff" * 6, 0x0806, struct.pack("!HHBBH", 1, 0x0800, 6, 4, 9) + me +
                                         socket.inet_aton(src) + b"\0" * 6 + socket.inet_aton(dst)),
        "eth_drop_not_for_us": lambda i: eth(b"\x02\x00\x00\x00\x00\x99", 0x0800, ipv4(src, dst, 1, good_icmp)),
        "eth_drop_vlan": lambda i: eth(gw, 0x8100, b"\x00\x05\x08\x00" + ipv4(src, dst, 1, good_icmp)),
        "eth_drop_unknown_type": lambda i: eth(gw, 0x88B5, b"mxgate hostile"),
    }
    rnd = random.Random(int(os.environ.get("MX_SEED", "2026")))
    sent = {}
    for k, make in kinds.items():
        for i in range(n):
            s.send(make(i))
            if i % 64 == 63:
                time.sleep(0.002)  # stay well inside the tap queue while the lcore may be asleep
        sent[k] = n
    # Random garbage to our MAC: no expectations beyond "no crash, still answers".
    for i in range(n):
        body = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 200)))
        t = rnd.choice([0x0800, 0x0806, 0x86DD, rnd.getrandbits(16)])
        s.send(eth(gw, t, body))
        if i % 64 == 63:
            time.sleep(0.002)
    for k, v in sent.items():
        print(f"{k}={v}")


if __name__ == "__main__":
    main()
