#!/usr/bin/env bash
# The SMTP front end end to end: install, configure with reg add, net start, real clients
# from many 127.x addresses, net stop (see smtp_e2e.py for the cases).
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
e2e_begin smtp
e2e_install_exe
e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
port=$(e2e_free_port)
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_reg add "$K" /v ListenAddresses /t REG_MULTI_SZ /d '0.0.0.0' /f
e2e_reg add "$K" /v MailRoot /t REG_SZ /d 'C:\mail' /f
e2e_reg add "$K" /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
e2e_reg add "$K" /v SmtpHostName /t REG_SZ /d 'mx.example.com' /f
# AUTH is checked here in clear (smtplib without STARTTLS); AUTH inside TLS and its refusal
# outside are tests/wine/tls/test_starttls_e2e.sh.
e2e_reg add "$K" /v AuthWithoutTls /t REG_DWORD /d 1 /f
# The front end is tested here, delivery in tests/wine/delivery: relayed mail stays queued
# (deferred: nothing listens on port 1) so the checks can count the files in Queue.
e2e_reg add "$K" /v SmartHost /t REG_SZ /d '[127.0.0.1]:1' /f
e2e_start_service
e2e_wait 60 e2e_port_open "$port"

export E2E_EXE E2E_EVENTS WINE WINEPREFIX
export IMSRELAY_PORT=$port IMSRELAY_MAILROOT="$E2E_DRIVE_C/mail"
python3 "$IMSRELAY_SOURCE_DIR/tests/wine/smtp/smtp_e2e.py" "$@" || e2e_fail "SMTP end-to-end checks failed"
e2e_wait 60 e2e_service_exited
e2e_pass
