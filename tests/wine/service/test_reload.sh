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
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_reg add "$K" /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
e2e_start_service
e2e_wait 60 e2e_port_open "$port"

# The defaults of install: RelayFlags 2, RelayAllowList 127.0.0.1.
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 250 ] || e2e_fail "127.0.0.1 may not relay at start"
[ "$(e2e_rcpt "$port" 127.0.0.9 user@far.test)" = 550 ] || e2e_fail "127.0.0.9 may relay at start"

# Deny 127.0.0.1 as well (bits 1 and 2): one .reg import, one reload.
# A reload put in force is an information event ("trace:") whose second string describes the
# rules now in force; a refused one is an error. Each step waits for the event describing
# its result, not for "the next reload": a .reg import is one reload only when regedit
# writes its values within the service's 0.3 s of quiet, which a busy machine can break
# (then the first reload has half the import, and the next one the rest).
changed='trace:.*the registry changed \(Parameters, the policy key or IPEnableRouter\)'
described() { echo "trace:eventlog:ReportEventW L\"$1"; }
e2e_reg_import "$KEY" '"RelayFlags"=dword:00000003' "\"RelayDenyList\"=$(e2e_reg_multi 127.0.0.1)"
e2e_events_wait 60 "$(described 'RelayFlags 3: deny list, allow list \(RelayDenyList 1 rule')"
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 550 ] || e2e_fail "the deny list is not in force after the reload"
e2e_log "reloads for the first import: $(e2e_events_count "$changed") (1 unless regedit paused)"

# A session opened before a change goes on, and its next RCPT uses the new rules.
wait_for_second_reload() {
    local pattern before deadline=$((SECONDS + 60))
    pattern=$(described 'RelayFlags 2: ') # also the started event's: count from here
    before=$(e2e_events_count "$pattern")
    e2e_reg_import "$KEY" '"RelayFlags"=dword:00000002'
    until [ "$(e2e_events_count "$pattern")" -gt "$before" ]; do
        [ $SECONDS -lt $deadline ] || return 1
        sleep 0.2
    done
}
export -f wait_for_second_reload described e2e_reg_import e2e_reg_multi e2e_wine e2e_events_count winepath_w
export E2E_DIR E2E_EVENTS KEY WINE WINEPREFIX WINEDEBUG WINEDLLOVERRIDES
code=$(e2e_rcpt "$port" 127.0.0.1 user@far.test -- bash -c wait_for_second_reload) ||
    e2e_fail "the open session did not survive the reload"
[ "$code" = 250 ] || e2e_fail "the open session's RCPT got $code, not the new rules' 250"

# A change with an error is refused; the previous rules (127.0.0.1 may relay) stay.
e2e_reg_import "$KEY" "\"RelayAllowList\"=$(e2e_reg_multi 127.0.0.2 not-an-address)"
e2e_events_wait 60 'the new configuration has 1 error'
e2e_events_wait 60 'not-an-address'
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 250 ] || e2e_fail "a refused change took effect"
[ "$(e2e_rcpt "$port" 127.0.0.2 user@far.test)" = 550 ] || e2e_fail "a refused change took effect"

# Corrected: in force.
e2e_reg_import "$KEY" "\"RelayAllowList\"=$(e2e_reg_multi 127.0.0.2)"
# The event does not name the listed address: the new rule's verdict shows it in force.
e2e_wait 60 e2e_rcpt_is 250 "$port" 127.0.0.2 user@far.test
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 550 ] || e2e_fail "old list still in force"

# PARAMCHANGE on request (sc control MSExchangeIMC paramchange; Wine's sc lacks `control`).
e2e_wine "$E2E_EXE" reload >/dev/null || e2e_fail "imsrelay.exe reload failed"
e2e_events_wait 60 'requested by a PARAMCHANGE control'

# Clients connected to a listed local address may relay (bit 3) until IP forwarding is
# switched on in Tcpip\Parameters, a key of its own, also watched.
e2e_reg_import "$KEY" '"RelayFlags"=dword:00000004' "\"RelayLocalIPList\"=$(e2e_reg_multi 127.0.0.1)"
e2e_events_wait 60 "$(described 'RelayFlags 4: local-IP list ')"
[ "$(e2e_rcpt "$port" 127.0.0.9 user@far.test)" = 250 ] || e2e_fail "RelayLocalIPList not in force"
e2e_reg add 'HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters' /v IPEnableRouter /t REG_DWORD /d 1 /f
e2e_events_wait 60 "$(described 'RelayFlags 4: none: every relay is denied; local-IP list ignored')"
[ "$(e2e_rcpt "$port" 127.0.0.9 user@far.test)" = 550 ] || e2e_fail "IP forwarding did not disable RelayLocalIPList"

# The listeners stay as they were opened; a new port is announced for the next start.
other=$(e2e_free_port)
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$other" /f
e2e_events_wait 60 "warn:.*changed from $port to $other: the service listens on $port until it is restarted"
e2e_port_open "$port" || e2e_fail "the listener was closed by a reload"

e2e_stop_service
e2e_pass
