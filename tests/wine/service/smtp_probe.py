#!/usr/bin/env python3
"""The relay decision as a client sees it: the reply code to one RCPT.

    smtp_probe.py PORT CLIENT_IP RECIPIENT
        connects from CLIENT_IP (any 127.x.y.z), EHLO, MAIL, RCPT; prints the RCPT code.
    smtp_probe.py PORT CLIENT_IP RECIPIENT -- COMMAND...
        the same, but runs COMMAND after MAIL and before RCPT, on the same open session:
        the session must survive whatever COMMAND does (a reload) and its RCPT gets the
        rules in force then. Exit 1 if COMMAND fails.
"""
import smtplib
import subprocess
import sys


def main():
    port, client, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    command = sys.argv[5:] if len(sys.argv) > 4 and sys.argv[4] == "--" else None
    smtp = smtplib.SMTP("127.0.0.1", port, timeout=60, source_address=(client, 0))
    smtp.ehlo("probe.test")
    code, _ = smtp.mail("probe@probe.test")
    if code != 250:
        print(f"MAIL {code}")
        return 1
    if command is not None and subprocess.run(command).returncode != 0:
        return 1
    code, _ = smtp.rcpt(rcpt)
    print(code)
    smtp.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
