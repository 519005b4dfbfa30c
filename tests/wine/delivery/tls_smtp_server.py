#!/usr/bin/python3
"""Scriptable SMTP servers for the outbound TLS tests (Debian's python3-aiosmtpd).

    tls_smtp_server.py LOG USER PASSWORD NAME:MODE:PORT:CERT:KEY[:ADDRESS] ...

MODE: starttls (offers STARTTLS), implicit (TLS from the first byte), plain (no TLS),
tls13only (offers STARTTLS but takes only TLS 1.3, so a TLS 1.2 client's handshake fails). Every
server offers AUTH PLAIN and LOGIN whether or not the session is encrypted, so that a
client which would send its password in clear could: the log says where each arrived.
One JSON object per line in LOG: {"server", "event": "ready"|"auth"|"mail"|"data", "tls",
...}; "auth" has "ok" (the right user and password) and "mechanism", "data" the Subject and the body's
SHA-256 and size (the body: everything after the header's blank line).
"""
import asyncio
import hashlib
import json
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

log_path, user, password = sys.argv[1], sys.argv[2].encode(), sys.argv[3].encode()
lock = threading.Lock()


def record(**fields):
    with lock, open(log_path, "a") as f:
        f.write(json.dumps(fields) + "\n")


def encrypted(server):
    transport = server.transport
    return server._tls_protocol is not None or (
        transport is not None and transport.get_extra_info("ssl_object") is not None)


class Handler:
    def __init__(self, name):
        self.name = name

    async def handle_MAIL(self, server, session, envelope, address, options):
        record(server=self.name, event="mail", tls=encrypted(server), sender=address,
               authenticated=bool(session.authenticated))
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        subject = ""
        for line in envelope.content.decode("utf-8", "replace").splitlines():
            if line.lower().startswith("subject:"):
                subject = line.split(":", 1)[1].strip()
                break
        body = envelope.original_content.split(b"\r\n\r\n", 1)[-1]
        record(server=self.name, event="data", tls=encrypted(server), subject=subject,
               recipients=envelope.rcpt_tos, body_sha256=hashlib.sha256(body).hexdigest(),
               body_bytes=len(body))
        return "250 2.0.0 queued"


def authenticator_for(name):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == user and
              auth_data.password == password)
        record(server=name, event="auth", tls=encrypted(server), mechanism=mechanism, ok=ok)
        return AuthResult(success=ok, handled=False)
    return authenticate


class TlsController(Controller):
    def __init__(self, name, mode, starttls_context, **kwargs):
        self.mode = name, mode
        self.starttls_context = starttls_context
        super().__init__(Handler(name), **kwargs)

    def factory(self):
        name, mode = self.mode
        return SMTP(self.handler, tls_context=self.starttls_context, require_starttls=False,
                    auth_require_tls=False, authenticator=authenticator_for(name),
                    hostname="tls-test-server")


def context(cert, key, minimum=ssl.TLSVersion.TLSv1_2):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = minimum
    ctx.load_cert_chain(cert, key)
    return ctx


controllers = []
for spec in sys.argv[4:]:
    parts = spec.split(":")
    name, mode, port, cert, key = parts[:5]
    address = parts[5] if len(parts) > 5 else "127.0.0.1"
    ctx = None
    if mode == "tls13only":
        ctx = context(cert, key, ssl.TLSVersion.TLSv1_3)
    elif mode != "plain":
        ctx = context(cert, key)
    c = TlsController(name, mode, ctx if mode in ("starttls", "tls13only") else None,
                      hostname=address,
                      port=int(port), ssl_context=ctx if mode == "implicit" else None,
                      ready_timeout=30)
    c.start()
    controllers.append(c)
    record(server=name, event="ready", tls=False, port=int(port))

try:
    threading.Event().wait()
finally:
    for c in controllers:
        c.stop()
