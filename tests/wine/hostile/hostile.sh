#!/usr/bin/env bash
# Hostile load end to end: install, shorten the limits with reg add so the test runs in
# seconds, net start, attack from many 127.x addresses while a legitimate client measures
# what it gets (see hostile.py), net stop.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
e2e_begin hostile
e2e_install_exe
e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
port=$(e2e_free_port)
dword() { e2e_reg add "$K" /v "$1" /t REG_DWORD /d "$2" /f; }
dword ListenPort "$port"
e2e_reg add "$K" /v ListenAddresses /t REG_MULTI_SZ /d '0.0.0.0' /f
e2e_reg add "$K" /v MailRoot /t REG_SZ /d 'C:\mail' /f
e2e_reg add "$K" /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
e2e_reg add "$K" /v SmtpHostName /t REG_SZ /d 'mx.example.com' /f
# The AUTH flood speaks in clear, to load the password checks (not TLS handshakes).
e2e_reg add "$K" /v AuthWithoutTls /t REG_DWORD /d 1 /f
dword MaxConnections 300
dword MaxConnectionsPerClient 40
dword IdleTimeoutSeconds 10
dword CommandTimeoutSeconds 10
dword DataMinBytesPerSecond 100
dword SessionTimeoutSeconds 60
dword StressConnectionsPercent 0
dword TmpMaxMegabytes 12
dword TmpMaxMegabytesPerClient 6
dword ProtocolLogSessionKilobytes 64
dword ProtocolLogDailyMegabytes 64
e2e_start_service
e2e_wait 30 e2e_port_open "$port"

export E2E_EXE E2E_EVENTS WINE WINEPREFIX
export IMSRELAY_PORT=$port IMSRELAY_MAILROOT="$E2E_DRIVE_C/mail"
python3 "$IMSRELAY_SOURCE_DIR/tests/wine/hostile/hostile.py" "$@" || e2e_fail "hostile load checks failed"
e2e_net_stop 60
e2e_pass
