#!/usr/bin/env python3
"""Interop: Python's smtplib against the server engine on a loopback socket (through the
test-only adapter): several recipients with a refusal, SMTPUTF8, 8-bit, a 3 MB message, dot lines,
and exact bytes on arrival."""
import os
import smtplib
import subprocess
import sys
import tempfile
import time

failures = 0


def check(what, ok):
    global failures
    print(("[smtp_smtplib] ok: " if ok else "[smtp_smtplib] FAIL: ") + what)
    if not ok:
        failures += 1


def main():
    work = tempfile.mkdtemp()
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "1", "-subj", "/CN=mx.loopback.test", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    srv = subprocess.Popen([os.environ["SMTP_LOOPBACK_SERVER"], "--spool", work, "--port", "0",
                            "--cert", cert, "--key", key],
                           stdout=subprocess.PIPE, text=True)
    try:
        line = srv.stdout.readline().strip()
        port = int(line.rsplit(":", 1)[1])
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.net", timeout=20) as s:
            code, caps = s.ehlo()
            check("EHLO 250", code == 250)
            for ext in ("pipelining", "size", "8bitmime", "enhancedstatuscodes", "chunking", "smtputf8", "dsn"):
                check("offers " + ext.upper(), s.has_extn(ext))
            msg = b"Subject: one\r\n\r\nfirst line\r\n.dot line\r\n..two\r\n"
            refused = s.sendmail("alice@example.net", ["bob@example.test", "unknown-x@example.test", "carol@example.test"], msg)
            check("one recipient refused with 550", refused.get("unknown-x@example.test", (0,))[0] == 550)
            stored = open(os.path.join(work, "0001.eml"), "rb").read()
            check("bytes arrive exactly (dot lines unstuffed)", stored == msg)
            env = open(os.path.join(work, "0001.env")).read().splitlines()
            check("envelope has the two accepted recipients", env[1:] == ["RCPT TO:<bob@example.test>", "RCPT TO:<carol@example.test>"])

            utf8 = "Subject: Grüße\r\n\r\nÜmlaut body\r\n".encode()
            s.sendmail("jörg@example.net", ["ünïcode@example.test"], utf8, mail_options=["SMTPUTF8", "BODY=8BITMIME"])
            env = open(os.path.join(work, "0002.env"), encoding="utf-8").read()
            check("SMTPUTF8 envelope kept", "MAIL FROM:<jörg@example.net> SMTPUTF8 BODY=8BITMIME" in env)
            check("8-bit body kept", open(os.path.join(work, "0002.eml"), "rb").read() == utf8)

            try:
                s.sendmail("jörg@example.net", ["bob@example.test"], b"x\r\n")
                check("UTF-8 sender without SMTPUTF8 refused", False)
            except smtplib.SMTPSenderRefused as e:
                check("UTF-8 sender without SMTPUTF8 refused with 553", e.smtp_code == 553)

            big = b"Subject: big\r\n\r\n" + b"".join(b"%07d " % i + b"x" * 70 + b"\r\n" for i in range(40000))
            t0 = time.time()
            s.sendmail("alice@example.net", ["bob@example.test"], big)
            check("3 MB message arrives intact (%.0f ms)" % ((time.time() - t0) * 1000),
                  open(os.path.join(work, "0003.eml"), "rb").read() == big)

            try:
                s.sendmail("alice@example.net", ["x@other.example"], b"x\r\n")
                check("relay refused", False)
            except smtplib.SMTPRecipientsRefused as e:
                check("relay refused with 550", e.recipients["x@other.example"][0] == 550)
            code, _ = s.noop()
            check("session still usable after refusals", code == 250)

        import ssl
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.example.net", timeout=20) as s:
            s.ehlo()
            check("offers STARTTLS", s.has_extn("starttls"))
            tls = ssl.create_default_context()
            tls.check_hostname = False
            tls.verify_mode = ssl.CERT_NONE
            code, _ = s.starttls(context=tls)
            check("STARTTLS 220", code == 220)
            check("TLS 1.3 negotiated", s.sock.version() == "TLSv1.3")
            s.ehlo()
            check("STARTTLS no longer offered inside TLS", not s.has_extn("starttls"))
            s.sendmail("alice@example.net", ["bob@example.test"], b"Subject: tls\r\n\r\nover tls\r\n")
            env = open(os.path.join(work, "0004.env")).read()
            check("delivered over TLS, TLS details recorded", "TLS TLSv1.3" in env)
    finally:
        srv.terminate()
        srv.wait(timeout=10)
    print("[smtp_smtplib] %d check(s) failed" % failures if failures else "[smtp_smtplib] all checks passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
