#!/usr/bin/env bash
# imsrelay.exe run: the same server in the foreground, every event on the console with the
# full text of the message table, and Ctrl+C (SIGINT, which Wine turns into CTRL_C_EVENT)
# stops it cleanly with exit code 0.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin run-mode
e2e_install_exe
port=$(e2e_free_port)
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 2 /f
e2e_reg add "$K" /v RelayAllowList /t REG_MULTI_SZ /d '127.0.0.1\0bad-line' /f
e2e_reg add "$K" /v MailRoot /t REG_SZ /d 'C:\mail' /f

console="$E2E_DIR/console.txt"
WINEDEBUG=-all "$WINE" "$E2E_EXE" run >"$console" 2>&1 &
pid=$!
console_has() { grep -Eq -- "$1" "$console"; }
e2e_wait 60 console_has "Information 1000: The imsrelay SMTP service started and is listening on 0\.0\.0\.0:$port"
console_has "Error 1002: Configuration error in registry value RelayAllowList, line 2 \(\"bad-line\"\)" ||
    e2e_fail "the configuration error is not on the console: $(cat "$console")"

[ "$(e2e_rcpt "$port" 127.0.0.7 someone@far.test)" = 550 ] || e2e_fail "127.0.0.7 may relay"
e2e_wait 60 console_has "Warning 1008: Relaying denied\. Client IP address: 127\.0\.0\.7\..*Recipient: someone@far\.test\."

kill -INT $pid
e2e_wait 60 console_has "Information 1001: The imsrelay SMTP service stopped: Ctrl\+C in the console\."
rc=0
wait $pid || rc=$?
[ $rc = 0 ] || e2e_fail "run exited with $rc after Ctrl+C"
e2e_port_open "$port" && e2e_fail "still listening after Ctrl+C"
e2e_pass
