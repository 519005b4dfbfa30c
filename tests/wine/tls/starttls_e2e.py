#!/usr/bin/env python3
"""Inbound STARTTLS against the installed service under Wine, with Python's ssl: AUTH only
inside TLS, the command injection of CVE-2011-0411, failed and abandoned handshakes that
leave the service serving (and release the connection counts), and 100 concurrent TLS
sessions each delivering one message.

Environment (set by test_starttls_e2e.sh): WINE, WINEPREFIX, E2E_EXE, E2E_EVENTS,
IMSRELAY_PORT, IMSRELAY_MAILROOT (Unix path), IMSRELAY_HOST (SmtpHostName). The service has
RelayFlags 10 (127.0.0.1 and authenticated clients relay), MaxConnectionsPerClient 3,
CommandTimeoutSeconds 10, an account alice with the password "s3cret pass".

Every wait is for a condition with a deadline (PATIENCE), never a fixed sleep.
"""
import base64
import glob
import os
import smtplib
import socket
import ssl
import subprocess
import sys
import threading
import time

WINE = os.environ["WINE"]
EXE = os.environ["E2E_EXE"]
EVENTS = os.environ["E2E_EVENTS"]
KEY = r"HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters"
PORT = int(os.environ["IMSRELAY_PORT"])
MAILROOT = os.environ["IMSRELAY_MAILROOT"]
HOST = os.environ["IMSRELAY_HOST"]
PATIENCE = 60

failures = []


def check(condition, what):
    print(("ok: " if condition else "FAIL: ") + what, flush=True)
    if not condition:
        failures.append(what)


def eventually(predicate, seconds=PATIENCE):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False


def queued():
    return len(glob.glob(os.path.join(MAILROOT, "Queue", "**", "*.eml"), recursive=True))


def context():
    """A client that takes the self-signed certificate (opportunistic TLS, as MTAs do), but
    speaks TLS 1.2 or later only."""
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    c.minimum_version = ssl.TLSVersion.TLSv1_2
    return c


def client(source):
    c = smtplib.SMTP(timeout=PATIENCE, source_address=(source, 0))
    c._host = HOST  # smtplib's name for the server in starttls (connect() leaves it empty)
    c.connect("127.0.0.1", PORT)
    return c


def test_auth():
    token = base64.b64encode(b"\0alice\0s3cret pass").decode()
    c = client("127.0.7.1")
    c.ehlo("client.test")
    check(c.has_extn("starttls"), "EHLO in clear offers STARTTLS")
    check(not c.has_extn("auth"), "EHLO in clear does not offer AUTH")
    code, text = c.docmd("AUTH PLAIN " + token)
    check(code == 530 and b"5.7.0 Must issue a STARTTLS command first" in text,
          f"AUTH PLAIN in clear is refused with 530 5.7.0: {code} {text!r}")
    code, _ = c.docmd("AUTH LOGIN")
    check(code == 530, f"AUTH LOGIN in clear is refused with 530: {code}")
    c.mail("alice@client.test")
    code, _ = c.rcpt("bob@far.test")
    check(code == 550, f"in clear and not authenticated, relaying is denied: {code}")
    c.quit()

    c = client("127.0.7.1")
    c.ehlo("client.test")
    c.starttls(context=context())
    c.ehlo("client.test")
    check(c.has_extn("auth") and "PLAIN" in c.esmtp_features.get("auth", ""),
          "EHLO inside TLS offers AUTH PLAIN LOGIN")
    check(not c.has_extn("starttls"), "EHLO inside TLS no longer offers STARTTLS")
    code, _ = c.login("alice", "s3cret pass")
    check(code == 235, f"AUTH inside TLS with the right password: {code}")
    before = queued()
    c.mail("alice@client.test")
    code, _ = c.rcpt("bob@far.test")
    check(code == 250, f"authenticated inside TLS, alice may relay (RelayFlags bit 4): {code}")
    code, _ = c.data(b"Subject: over TLS\r\n\r\nhello\r\n")
    check(code == 250, f"the message is accepted inside TLS: {code}")
    c.quit()
    check(eventually(lambda: queued() == before + 1), "the message is in Queue")

    c = client("127.0.7.1")
    c.ehlo("client.test")
    c.starttls(context=context())
    c.ehlo("client.test")
    try:
        c.login("alice", "wrong")
        refused = False
    except smtplib.SMTPAuthenticationError as e:
        refused = e.smtp_code == 535
    check(refused, "a wrong password inside TLS gets 535")
    c.close()


def read_reply(f):
    """One SMTP reply (all its lines) from a file-like reader."""
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise ConnectionError("closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return b"".join(lines)


def test_injection():
    """A man in the middle appends commands to the client's STARTTLS packet: they must not
    run inside TLS as if the client had sent them there (CVE-2011-0411)."""
    before = queued()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=PATIENCE,
                                 source_address=("127.0.7.2", 0))
    f = s.makefile("rb")
    read_reply(f)
    s.sendall(b"EHLO evil.test\r\n")
    read_reply(f)
    s.sendall(b"STARTTLS\r\nRSET\r\nMAIL FROM:<inject@evil.test>\r\n"
              b"RCPT TO:<victim@example.com>\r\n")
    reply = read_reply(f)
    check(reply.startswith(b"220 2.0.0 Ready to start TLS"), f"220 to STARTTLS: {reply!r}")
    f.close()
    t = context().wrap_socket(s, server_hostname=HOST)
    check(t.version() == "TLSv1.2", f"the handshake after the injection completes: {t.version()}")
    tf = t.makefile("rb")
    t.sendall(b"HELP\r\n")
    reply = read_reply(tf)
    check(reply.startswith(b"214 2.0.0 Commands:") and b"STARTTLS" not in reply,
          f"the first reply inside TLS answers the client's own HELP, not the injected RSET: "
          f"{reply!r}")
    t.sendall(b"RCPT TO:<someone@example.com>\r\n")
    reply = read_reply(tf)
    check(reply.startswith(b"503 5.5.1 Need MAIL before RCPT"),
          f"the injected MAIL FROM opened no transaction: {reply!r}")
    t.sendall(b"MAIL FROM:<a@client.test>\r\n")
    reply = read_reply(tf)
    check(reply.startswith(b"503 5.5.1 Send HELO or EHLO first"),
          f"inside TLS the session starts afresh (no EHLO yet): {reply!r}")
    t.sendall(b"QUIT\r\n")
    read_reply(tf)
    t.close()
    check(queued() == before, "nothing was queued by the injected commands")


def handshake_then_mail(source):
    """A full TLS session that relays one message from 127.0.0.1: True when accepted."""
    c = client(source)
    try:
        c.ehlo("client.test")
        c.starttls(context=context())
        c.ehlo("client.test")
        c.mail("sender@client.test")
        code, _ = c.rcpt("someone@far.test" if source == "127.0.0.1" else "user@example.com")
        if code != 250:
            return False
        code, _ = c.data(b"Subject: next\r\n\r\nstill serving\r\n")
        c.quit()
        return code == 250
    except (OSError, smtplib.SMTPException) as e:
        print(f"  session from {source}: {e!r}", flush=True)
        return False


def closed_by_server(s):
    """The server closes the connection: recv returns end of file (or a reset)."""
    try:
        while True:
            data = s.recv(4096)
            if not data:
                return True
    except ConnectionResetError:
        return True
    except socket.timeout:
        return False


def starttls_raw(source):
    s = socket.create_connection(("127.0.0.1", PORT), timeout=PATIENCE,
                                 source_address=(source, 0))
    f = s.makefile("rb")
    read_reply(f)
    s.sendall(b"EHLO bad.test\r\nSTARTTLS\r\n")
    read_reply(f)
    reply = read_reply(f)
    f.close()
    return s, reply


def test_failed_and_abandoned_handshakes():
    # More failures from one address than MaxConnectionsPerClient (3): each must release
    # its count, or the last ones and the good session after them would be refused 421.
    source = "127.0.7.3"
    for i in range(5):
        s, reply = starttls_raw(source)
        check(reply.startswith(b"220 2.0.0"), f"garbage handshake {i + 1}: 220 to STARTTLS")
        s.sendall(b"this is not a TLS record\r\n" * 4)
        check(closed_by_server(s), f"garbage handshake {i + 1}: the server closes the connection")
        s.close()
    for i in range(2):
        s, _ = starttls_raw(source)
        watch = s.dup()  # a failed wrap_socket closes s
        tls12_only = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        tls12_only.check_hostname = False
        tls12_only.verify_mode = ssl.CERT_NONE
        tls12_only.minimum_version = ssl.TLSVersion.TLSv1_3  # the server has no TLS 1.3
        try:
            tls12_only.wrap_socket(s, server_hostname=HOST)
            refused = False
        except (ssl.SSLError, OSError):
            refused = True
        check(refused, f"a TLS 1.3-only client is refused ({i + 1})")
        check(closed_by_server(watch),
              f"TLS 1.3-only client {i + 1}: the server closes the connection")
        watch.close()
        s.close()
    # Abandoned: STARTTLS and then silence; the command-line deadline (10 s) ends it.
    abandoned = []
    for _ in range(2):
        s, reply = starttls_raw(source)
        check(reply.startswith(b"220 2.0.0"), "abandoned handshake: 220 to STARTTLS")
        abandoned.append(s)
    # Half a ClientHello, then silence.
    s, _ = starttls_raw(source)
    s.sendall(bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))
    abandoned.append(s)
    for i, s in enumerate(abandoned):
        check(closed_by_server(s), f"abandoned handshake {i + 1}: closed by the server's deadline")
        s.close()
    check(handshake_then_mail(source),
          "after 10 failed or abandoned handshakes from one address (limit 3), its next TLS "
          "session delivers a message")


def test_concurrent(n=100):
    before = queued()
    barrier = threading.Barrier(n, timeout=PATIENCE * 3)
    results = [None] * n
    in_tls_together = [False] * n

    def one(i):
        try:
            c = client("127.0.0.1")  # the allow list: may relay, exempt from the per-client cap
            c.ehlo(f"c{i}.test")
            c.starttls(context=context())
            c.ehlo(f"c{i}.test")
            try:
                barrier.wait()  # all n sessions are inside TLS at once
                in_tls_together[i] = True
            except threading.BrokenBarrierError:
                pass
            c.mail(f"sender{i}@client.test")
            code, _ = c.rcpt(f"rcpt{i}@far.test")
            if code == 250:
                code, _ = c.data(f"Subject: concurrent {i}\r\n\r\nmessage {i}\r\n".encode())
            c.quit()
            results[i] = code
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = repr(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    start = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join(PATIENCE * 5)
    took = time.time() - start
    accepted = sum(1 for r in results if r == 250)
    bad = [r for r in results if r != 250][:5]
    check(sum(in_tls_together) == n, f"{n} sessions were inside TLS at the same time")
    check(accepted == n, f"{n} concurrent TLS sessions: {accepted} messages accepted {bad}")
    check(eventually(lambda: queued() == before + n),
          f"{n} more messages in Queue ({queued() - before})")
    print(f"figure: {n} concurrent STARTTLS sessions, one message each, in {took:.1f} s",
          flush=True)


def wine(*args):
    return subprocess.run([WINE, *args], capture_output=True, text=True,
                          env=dict(os.environ, WINEDEBUG="-all"), timeout=120)


def event_strings():
    with open(EVENTS, "r", errors="replace") as f:
        text = f.read()
    return [line.split(' L"', 1)[1][:-1] for line in text.splitlines()
            if ":eventlog:ReportEventW L\"" in line and line.endswith('"')]


def reload_and_wait():
    """imsrelay.exe reload (PARAMCHANGE); returns once its reload event is written, which
    happens after the new snapshot (and its certificate) is in force."""
    before = sum(1 for v in event_strings() if v.startswith("requested by a PARAMCHANGE"))
    r = wine(EXE, "reload")
    return r.returncode == 0 and eventually(
        lambda: sum(1 for v in event_strings()
                    if v.startswith("requested by a PARAMCHANGE")) > before)


def ehlo_features(source):
    c = client(source)
    try:
        c.ehlo("client.test")
        return set(c.esmtp_features)
    finally:
        c.quit()


def test_reload_without_certificate():
    """A TlsCertificate that names no certificate: on reload, STARTTLS is no longer offered
    (and the event says why), the service keeps serving in clear, AUTH stays refused; back to
    the default, STARTTLS returns."""
    missing = "00" * 20
    wine("reg", "add", KEY, "/v", "TlsCertificate", "/t", "REG_SZ", "/d", missing, "/f")
    check(reload_and_wait(), "reload with a TlsCertificate that names no certificate")
    check(any(v == f"no certificate with thumbprint {missing} in LocalMachine\\\\My"
              for v in event_strings()),
          "the event says which certificate is missing (Wine's capture doubles backslashes)")
    features = ehlo_features("127.0.7.4")
    check("starttls" not in features and "auth" not in features,
          f"without a certificate EHLO offers neither STARTTLS nor AUTH: {sorted(features)}")
    c = client("127.0.7.4")
    c.ehlo("client.test")
    code, _ = c.docmd("STARTTLS")
    check(code == 502, f"STARTTLS without a certificate gets 502: {code}")
    code, _ = c.docmd("AUTH PLAIN " + base64.b64encode(b"\0alice\0s3cret pass").decode())
    check(code == 530, f"AUTH in clear stays refused: {code}")
    c.quit()
    check(not handshake_then_mail("127.0.7.4"), "a client that insists on STARTTLS cannot get it")
    wine("reg", "delete", KEY, "/v", "TlsCertificate", "/f")
    check(reload_and_wait(), "reload with TlsCertificate deleted")
    check("starttls" in ehlo_features("127.0.7.4"), "STARTTLS is offered again")
    check(handshake_then_mail("127.0.0.1"), "and a TLS session delivers a message")


def main():
    test_auth()
    test_injection()
    test_failed_and_abandoned_handshakes()
    test_concurrent()
    test_reload_without_certificate()
    if failures:
        print(f"{len(failures)} checks failed", flush=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
