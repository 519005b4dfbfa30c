#!/usr/bin/env python3
"""Load through STARTTLS, which smtp-source cannot make (it has no TLS): SESSIONS threads,
each sending one message per session (banner, EHLO, STARTTLS, the TLS handshake, EHLO again,
MAIL, RCPT, DATA, the message, QUIT, no pipelining) until MESSAGES messages are sent in all.
The same client, with the same TLS library and settings, for either server, so the two
figures compare. The certificate is not verified (both servers serve a self-signed one, as a
relay's clients meet opportunistic TLS); TLS 1.2 or later is required.

  tls_source.py --port P --sessions N --messages M --size BYTES --rcpt ADDRESS

Exit 0 when every message got its 250 inside TLS; otherwise the first failure on stderr and
exit 1 (a server that does not offer STARTTLS is a failure: the row would not be TLS)."""
import argparse
import socket
import ssl
import sys
import threading


class Unexpected(Exception):
    pass


def reply(f):
    while True:
        line = f.readline()
        if not line:
            raise Unexpected("connection closed")
        if line[3:4] != b"-":
            return line


def ehlo(sock, f):
    sock.sendall(b"EHLO client.bench.test\r\n")
    lines = []
    while True:
        line = f.readline()
        if not line:
            raise Unexpected("connection closed after EHLO")
        lines.append(line)
        if line[3:4] != b"-":
            break
    if not lines[-1].startswith(b"250"):
        raise Unexpected(f"EHLO: {lines[-1].decode('latin-1').strip()}")
    return [l[4:].strip().upper() for l in lines]


def expect(sock, f, command, code):
    if command is not None:
        sock.sendall(command + b"\r\n")
    line = reply(f)
    if not line.startswith(code):
        what = command.decode() if command else "banner"
        raise Unexpected(f"{what}: {line.decode('latin-1').strip()}")


def one_session(port, context, body, rcpt, protocols):
    raw = socket.create_connection(("127.0.0.1", port), timeout=120)
    try:
        f = raw.makefile("rb")
        expect(raw, f, None, b"220")
        if b"STARTTLS" not in ehlo(raw, f):
            raise Unexpected("the server does not offer STARTTLS")
        expect(raw, f, b"STARTTLS", b"220")
        f.close()
        tls = context.wrap_socket(raw, server_hostname="localhost")
        protocols.add(tls.version())
        f = tls.makefile("rb")
        ehlo(tls, f)
        expect(tls, f, b"MAIL FROM:<sender@client.bench.test>", b"250")
        expect(tls, f, b"RCPT TO:<" + rcpt + b">", b"250")
        expect(tls, f, b"DATA", b"354")
        tls.sendall(body)
        expect(tls, f, None, b"250")
        expect(tls, f, b"QUIT", b"221")
        f.close()
        tls.close()
    finally:
        raw.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, required=True)
    p.add_argument("--messages", type=int, required=True)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--rcpt", required=True)
    args = p.parse_args()

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.TLSv1_2

    line = b"X" * 78 + b"\r\n"
    text = b"From: <sender@client.bench.test>\r\nTo: <rcpt@far.test>\r\nSubject: bench\r\n\r\n"
    while len(text) < args.size:
        text += line
    body = text[:args.size].rstrip(b"\r\n") + b"\r\n.\r\n"

    lock = threading.Lock()
    remaining = [args.messages]
    errors = []
    protocols = set()

    def worker():
        while True:
            with lock:
                if remaining[0] <= 0 or errors:
                    return
                remaining[0] -= 1
            try:
                one_session(args.port, context, body, args.rcpt.encode(), protocols)
            except (OSError, Unexpected, ssl.SSLError) as e:
                with lock:
                    errors.append(e)
                return

    threads = [threading.Thread(target=worker) for _ in range(args.sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        print(f"tls_source: {len(errors)} sessions failed, first: {errors[0]!r}", file=sys.stderr)
        return 1
    if not protocols <= {"TLSv1.2", "TLSv1.3"}:
        print(f"tls_source: protocols {sorted(protocols)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
