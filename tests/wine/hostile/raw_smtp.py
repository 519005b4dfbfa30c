"""What the hostile-load scripts share (tests/wine/hostile/hostile.py, the e2e test, and
tests/bench/hostile/findings.py, the before/after measurement): a raw SMTP client bound to
a 127.x source address, a trickling sender that notices when the server cuts it, and a look
at MailRoot\\Tmp. Environment: IMSRELAY_PORT, IMSRELAY_MAILROOT (the Unix path)."""
import glob
import os
import socket
import time

PORT = int(os.environ["IMSRELAY_PORT"])
MAILROOT = os.environ["IMSRELAY_MAILROOT"]
MIB = 1024 * 1024


def figure(text):
    print("figure: " + text, flush=True)


class Conn:
    """A raw SMTP connection from `source` that reads whole replies."""

    def __init__(self, source, timeout=10.0):
        self.s = socket.socket()
        try:
            self.s.bind((source, 0))
            self.s.settimeout(timeout)
            self.s.connect(("127.0.0.1", PORT))
        except OSError:
            self.s.close()
            raise
        self.buf = b""

    def reply(self):
        """The next complete reply (last line has a space after the code); b"" at close."""
        while True:
            lines = self.buf.split(b"\r\n")
            for i, line in enumerate(lines[:-1]):
                if len(line) >= 4 and line[3:4] == b" ":
                    out = b"\r\n".join(lines[: i + 1])
                    self.buf = b"\r\n".join(lines[i + 1 :])
                    return out
            data = self.s.recv(65536)
            if not data:
                return b""
            self.buf += data

    def cmd(self, line):
        self.s.sendall(line + b"\r\n")
        return self.reply()

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def trickle(c, byte, run_for, every=2.0):
    """Sends `byte` every `every` seconds (never silent for long) for at most run_for seconds.
    Returns (seconds until the server cut the session, what it said last: b"" when it just
    closed), or (None, b"") when it was still open at the end."""
    start = time.time()
    while time.time() - start < run_for:
        try:
            c.s.sendall(byte)
            c.s.settimeout(every)
            data = c.s.recv(4096)
            if not data or b"421" in data:
                return time.time() - start, data
        except socket.timeout:
            continue
        except OSError:
            return time.time() - start, b""
    return None, b""


def tmp_bytes():
    """Bytes in MailRoot\\Tmp: messages being received."""
    total = 0
    for path in glob.glob(os.path.join(MAILROOT, "Tmp", "*")):
        try:
            total += os.path.getsize(path)
        except OSError:
            pass
    return total
