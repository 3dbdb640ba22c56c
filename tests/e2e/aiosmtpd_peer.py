#!/usr/bin/python3
"""A downstream mail server for tests: aiosmtpd on 127.0.0.1 (or $PEER_HOST), storing each message as
DIR/NNNN.eml (the bytes received, unstuffed) and DIR/NNNN.env (envelope and TLS state).
Usage: aiosmtpd_peer.py DIR PORT [CERT KEY [require-tls]]   — stops on SIGTERM.
Behaviour per transaction, read from the file DIR.mode when it exists (tests switch it):
  accept (default) | tempfail (451 after the dot) | permfail (554 after the dot) |
  drop (close the connection after the dot, no reply) | slow (store and answer 250 after 3 s).
Recipients whose local part starts with "unknown" get 550 5.1.1 in every mode; those starting
with "busy" get 451 4.2.1 unless the file DIR.accept-busy exists."""
import asyncio
import os
import signal
import ssl
import sys

from aiosmtpd.controller import Controller


class Store:
    def __init__(self, d):
        self.d, self.n = d, 0

    def mode(self):
        try:
            with open(self.d + ".mode", encoding="ascii") as f:
                return f.read().strip() or "accept"
        except FileNotFoundError:
            return "accept"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("unknown"):
            return "550 5.1.1 no such user here"
        if local.startswith("busy") and not os.path.exists(self.d + ".accept-busy"):
            return "451 4.2.1 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        mode = self.mode()
        if mode == "tempfail":
            return "451 4.3.0 downstream busy"
        if mode == "permfail":
            return "554 5.7.1 downstream refuses this message"
        if mode == "drop":
            server.transport.abort()
            return "250 never seen"
        if mode == "slow":
            await asyncio.sleep(3)
        self.n += 1
        base = os.path.join(self.d, "%04d" % self.n)
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content or envelope.content)
        obj = session.ssl.get("ssl_object") if session.ssl else None
        tls = obj.version() if obj is not None else ""
        with open(base + ".env", "w", encoding="utf-8") as f:
            f.write("MAIL FROM:<%s> %s\n" % (envelope.mail_from, " ".join(envelope.mail_options)))
            for r in envelope.rcpt_tos:
                f.write("RCPT TO:<%s>\n" % r)
            f.write("TLS %s\n" % (tls or "none"))
        return "250 2.0.0 stored as %04d" % self.n


def main():
    d, port = sys.argv[1], int(sys.argv[2])
    kw = {}
    if len(sys.argv) >= 5:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(sys.argv[3], sys.argv[4])
        kw = {"tls_context": ctx, "require_starttls": len(sys.argv) >= 6}
    c = Controller(Store(d), hostname=os.environ.get("PEER_HOST", "127.0.0.1"), port=port, enable_SMTPUTF8=True, **kw)
    c.start()
    print("listening", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    while not stop:
        signal.pause()
    c.stop()


if __name__ == "__main__":
    main()
