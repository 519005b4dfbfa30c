#!/usr/bin/env bash
# Live reload while the service runs: a registry change is noticed and put in force (event,
# then the new decision for the next RCPT, also inside a session that was already open); a
# change with errors is refused and the old rules stay in force; `imsrelay.exe reload`
# (PARAMCHANGE) reloads on request.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin reload
e2e_install_exe
port=$(e2e_free_port)
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
KEY='[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters]'

e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
e2e_wine reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f >/dev/null
e2e_wine reg add "$K" /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f >/dev/null
e2e_wine net start MSExchangeIMC >/dev/null 2>&1 || true
e2e_wait 30 e2e_service_state RUNNING
e2e_wait 20 e2e_port_open "$port"

# The defaults of install: RelayFlags 2, RelayAllowList 127.0.0.1.
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 250 ] || e2e_fail "127.0.0.1 may not relay at start"
[ "$(e2e_rcpt "$port" 127.0.0.9 user@far.test)" = 550 ] || e2e_fail "127.0.0.9 may relay at start"

# Deny 127.0.0.1 as well (bits 1 and 2): one .reg import, one reload.
# A reload put in force is an information event ("trace:"); a refused one is an error.
changed='trace:.*the registry changed \(Parameters, the policy key or IPEnableRouter\)'
e2e_reg_import "$KEY" '"RelayFlags"=dword:00000003' "\"RelayDenyList\"=$(e2e_reg_multi 127.0.0.1)"
reloads_at_least() { [ "$(e2e_events_count "$changed")" -ge "$1" ]; }
e2e_events_wait 20 "$changed"
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 550 ] || e2e_fail "the deny list is not in force after the reload"
[ "$(e2e_events_count "$changed")" = 1 ] || e2e_fail "one import, more than one reload"

# A session opened before a change goes on, and its next RCPT uses the new rules.
wait_for_second_reload() {
    e2e_reg_import "$KEY" '"RelayFlags"=dword:00000002'
    local deadline=$((SECONDS + 20))
    until [ "$(e2e_events_count "$changed")" -ge 2 ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
export -f wait_for_second_reload e2e_reg_import e2e_reg_multi e2e_wine e2e_events_count winepath_w
export E2E_DIR E2E_EVENTS KEY changed WINE WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
code=$(e2e_rcpt "$port" 127.0.0.1 user@far.test -- bash -c wait_for_second_reload) ||
    e2e_fail "the open session did not survive the reload"
[ "$code" = 250 ] || e2e_fail "the open session's RCPT got $code, not the new rules' 250"

# A change with an error is refused; the previous rules (127.0.0.1 may relay) stay.
e2e_reg_import "$KEY" "\"RelayAllowList\"=$(e2e_reg_multi 127.0.0.2 not-an-address)"
e2e_events_wait 20 'the new configuration has 1 error'
e2e_events_wait 5 'not-an-address'
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 250 ] || e2e_fail "a refused change took effect"
[ "$(e2e_rcpt "$port" 127.0.0.2 user@far.test)" = 550 ] || e2e_fail "a refused change took effect"

# Corrected: in force.
e2e_reg_import "$KEY" "\"RelayAllowList\"=$(e2e_reg_multi 127.0.0.2)"
e2e_wait 20 reloads_at_least 3
[ "$(e2e_rcpt "$port" 127.0.0.2 user@far.test)" = 250 ] || e2e_fail "corrected list not in force"
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 550 ] || e2e_fail "old list still in force"

# PARAMCHANGE on request (sc control MSExchangeIMC paramchange; Wine's sc lacks `control`).
e2e_wine "$E2E_EXE" reload >/dev/null || e2e_fail "imsrelay.exe reload failed"
e2e_events_wait 20 'requested by a PARAMCHANGE control'

# Clients connected to a listed local address may relay (bit 3) until IP forwarding is
# switched on in Tcpip\Parameters, a key of its own, also watched.
e2e_reg_import "$KEY" '"RelayFlags"=dword:00000004' "\"RelayLocalIPList\"=$(e2e_reg_multi 127.0.0.1)"
e2e_wait 20 reloads_at_least 4
[ "$(e2e_rcpt "$port" 127.0.0.9 user@far.test)" = 250 ] || e2e_fail "RelayLocalIPList not in force"
e2e_wine reg add 'HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters' /v IPEnableRouter /t REG_DWORD /d 1 /f >/dev/null
e2e_wait 20 reloads_at_least 5
[ "$(e2e_rcpt "$port" 127.0.0.9 user@far.test)" = 550 ] || e2e_fail "IP forwarding did not disable RelayLocalIPList"

# The listeners stay as they were opened; a new port is announced for the next start.
other=$(e2e_free_port)
e2e_wine reg add "$K" /v ListenPort /t REG_DWORD /d "$other" /f >/dev/null
e2e_events_wait 20 "warn:.*changed from $port to $other: the service listens on $port until it is restarted"
e2e_port_open "$port" || e2e_fail "the listener was closed by a reload"

e2e_wine net stop MSExchangeIMC >/dev/null 2>&1 || true
e2e_wait 30 e2e_service_state STOPPED
e2e_pass
