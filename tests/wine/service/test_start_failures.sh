#!/usr/bin/env bash
# A service that cannot run stops with its documented exit code (ERROR_SERVICE_SPECIFIC_ERROR
# 1066 and a service-specific code) and says why in the log: another program holds the port
# (code 1); MailRoot cannot be made (code 5). Once the cause is gone, it starts.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin start-failures
e2e_install_exe
port=$(e2e_free_port)
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f

# Holds the port until it is killed (below, or by the trap), however long the steps take.
python3 -c '
import signal, socket, sys
s = socket.socket()
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen()
signal.pause()
' "$port" &
holder=$!
trap 'kill $holder 2>/dev/null || true; _e2e_cleanup' EXIT
e2e_wait 60 e2e_port_open "$port"

e2e_wine net start MSExchangeIMC >/dev/null 2>&1 || true
e2e_wait 60 e2e_service_state STOPPED
query=$(e2e_wine sc query MSExchangeIMC | tr -d '\r')
grep -Eq 'WIN32_EXIT_CODE +: +1066' <<<"$query" || e2e_fail "exit code is not 1066: $query"
grep -Eq 'SERVICE_EXIT_CODE +: +1 ' <<<"$query" || e2e_fail "service-specific code is not 1: $query"
e2e_events_wait 60 "err:.*the port is already in use"
e2e_events_wait 60 "err:.*no SMTP listener could be opened"
e2e_events_count 'stop requested' | grep -qx 0 || e2e_fail "a failed start reported a stop"

kill $holder
wait $holder 2>/dev/null || true

# MailRoot is a file, so its folders cannot be made.
echo "not a folder" >"$E2E_DRIVE_C/mailroot-file"
e2e_reg add "$K" /v MailRoot /t REG_SZ /d 'C:\mailroot-file' /f
e2e_wine net start MSExchangeIMC >/dev/null 2>&1 || true
e2e_wait 60 e2e_service_state STOPPED
query=$(e2e_wine sc query MSExchangeIMC | tr -d '\r')
grep -Eq 'SERVICE_EXIT_CODE +: +5 ' <<<"$query" || e2e_fail "service-specific code is not 5: $query"
e2e_events_wait 60 "err:.*the mail folders under MailRoot cannot be made"
e2e_port_open "$port" && e2e_fail "listening although the service could not run"

# Once the causes are gone, the service starts.
e2e_reg delete "$K" /v MailRoot /f
e2e_start_service
e2e_wait 60 e2e_port_open "$port"
e2e_pass
