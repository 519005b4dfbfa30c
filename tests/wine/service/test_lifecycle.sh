#!/usr/bin/env bash
# Install; the service exists with the right settings and event source; net start -> RUNNING
# with a started event; net stop -> STOPPED with a stopped event; start again.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin lifecycle
e2e_install_exe
port=$(e2e_free_port)

out=$(e2e_wine "$E2E_EXE" install 2>&1) || e2e_fail "install failed: $out"
e2e_log "install said: $out"

params='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
source_key='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\MSExchangeIMC'
service_key='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC'
# What the SCM stored (Wine's sc has no `qc`; the SCM keeps its settings in the service key).
[ "$(e2e_reg_query "$service_key" ImagePath)" = '"C:\Program Files\imsrelay\imsrelay.exe"' ] ||
    e2e_fail "binary path not quoted: $(e2e_reg_query "$service_key" ImagePath)"
[ "$(e2e_reg_query "$service_key" Start)" = 0x2 ] || e2e_fail "not automatic start"
[ "$(e2e_reg_query "$service_key" ObjectName)" = 'NT AUTHORITY\LocalService' ] ||
    e2e_fail "not under Local Service: $(e2e_reg_query "$service_key" ObjectName)"
[ -n "$(e2e_reg_query "$service_key" Description)" ] || e2e_fail "no description"
# Recovery actions: Wine 8 accepts SERVICE_CONFIG_FAILURE_ACTIONS but does not store them,
# so they cannot be checked here (README.md, "Running as a Windows service").
[ "$(e2e_reg_query "$source_key" EventMessageFile)" = 'C:\Program Files\imsrelay\imsrelay.exe' ] ||
    e2e_fail "event source not registered with the exe as message file"
[ "$(e2e_reg_query "$source_key" TypesSupported)" = 0x7 ] || e2e_fail "TypesSupported"
[ "$(e2e_reg_query "$params" RelayFlags)" = 0x2 ] || e2e_fail "RelayFlags default not 2"
[ "$(e2e_reg_query "$params" RelayAllowList)" = 127.0.0.1 ] || e2e_fail "RelayAllowList default"
[ -d "$E2E_DRIVE_C/ProgramData/imsrelay" ] || e2e_fail "MailRoot not created"

e2e_reg add "$params" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_start_service
e2e_wait 60 e2e_port_open "$port"
e2e_events_wait 60 "0\.0\.0\.0:$port"
e2e_log "running on port $port"

e2e_stop_service
e2e_events_wait 60 'stop requested by the Service Control Manager'
e2e_port_open "$port" && e2e_fail "port $port still open after stop"

e2e_start_service
e2e_wait 60 e2e_port_open "$port"
# The port opens a moment before the started event is written: wait for the event itself.
e2e_events_wait_more 60 1 "0\.0\.0\.0:$port"
e2e_pass
