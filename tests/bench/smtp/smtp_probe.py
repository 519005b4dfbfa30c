#!/usr/bin/env python3
"""One SMTP transaction from 127.0.0.1 to 127.0.0.1:PORT, to check what a server does before
it is loaded: prints the reply code of the RCPT (rcpt), or of the end of DATA (send).

  smtp_probe.py PORT rcpt|send [RECIPIENT]"""
import smtplib
import sys


def main(port, what, recipient="probe@far.test"):
    c = smtplib.SMTP("127.0.0.1", port, local_hostname="probe.bench.test", timeout=60)
    try:
        c.ehlo()
        code, text = c.mail("sender@client.bench.test")
        if code != 250:
            return code, text
        code, text = c.rcpt(recipient)
        if what == "rcpt" or code != 250:
            return code, text
        return c.data(b"Subject: probe\r\n\r\nprobe\r\n")
    finally:
        try:
            c.quit()
        except smtplib.SMTPException:
            c.close()


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4) or sys.argv[2] not in ("rcpt", "send"):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    try:
        code, text = main(int(sys.argv[1]), *sys.argv[2:])
        print(code, text.decode("latin-1", "replace"))
    except (OSError, smtplib.SMTPException) as e:
        print(f"0 {e!r}")
