#!/usr/bin/env bash
# Registry values set as an administrator sets them (`regedit /s` of a .reg file, `reg add`,
# `reg delete`) in a throwaway prefix, read back through the Win32 reader: defaults when the
# key is missing, the values as written, and every wrong type falling to its safe side.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib.sh"
[ -f "${REGIO_DUMP_EXE:-}" ] || { echo "FAIL: REGIO_DUMP_EXE is not set to regio_dump.exe" >&2; exit 1; }
e2e_begin regio-registry

params='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
tcpip='HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters'
dump_file="$E2E_DIR/dump.txt"

dump() {
    e2e_wine "$REGIO_DUMP_EXE" | tr -d '\r' >"$dump_file" || e2e_fail "regio_dump.exe failed"
}

# expect LINE...: each LINE is a whole line of the last dump.
expect() {
    for line in "$@"; do
        grep -Fxq -- "$line" "$dump_file" ||
            e2e_fail "$1: no line '$line' in the dump:"$'\n'"$(cat "$dump_file")"
    done
}

reg_add() {
    e2e_reg add "$@" /f
}

e2e_log "1. no Parameters key: every default"
e2e_wine reg delete "$params" /f >/dev/null 2>&1 || true
dump
expect "RelayFlags absent 0" "RelayDenyList absent 0" "RelayAllowList absent 0" \
    "RelayLocalIPList absent 0" "IPEnableRouter absent 0" "ListenPort absent 25" \
    "ListenAddresses absent 0" "MaxMessageBytes absent 10485760" "MaxRecipients absent 100" \
    "MaxLineLength absent 1000" "IdleTimeoutSeconds absent 300" "MaxConnections absent 2000" \
    "MaxConnectionsPerClient absent 50" "ProtocolLog absent 1" "DenialEventsPerMinute absent 10" \
    "AuthWindowsAccounts absent 0" 'MailRoot absent C:\ProgramData\imsrelay' \
    'diag info - 0: the key HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters does not exist: every value takes its default'
grep -Eq '^SmtpHostName absent [A-Za-z0-9.-]+$' "$dump_file" ||
    e2e_fail "no machine host name in: $(grep SmtpHostName "$dump_file")"

e2e_log "2. regedit /s relay-example.reg"
cp "$here/relay-example.reg" "$E2E_DRIVE_C/relay-example.reg"
e2e_wine regedit /s 'C:\relay-example.reg' || e2e_fail "regedit /s failed"
dump
expect "RelayFlags ok 3" "RelayDenyList ok 3" "RelayDenyList[1] 192.168.1.0;255.255.255.248" \
    "RelayDenyList[2] " "RelayDenyList[3] 192.168.1.64/29" "RelayAllowList ok 2" \
    "RelayAllowList[1] 192.168.1.0;255.255.255.0" "RelayAllowList[2] # office LAN" \
    "LocalDomains ok 1" "LocalDomains[1] example.com" 'MailRoot ok C:\imsrelay-mail' \
    "SmtpHostName ok mx.example.com" "ListenPort ok 2525" "IPEnableRouter ok 1" \
    "MaxLineLength unreadable 1000" \
    "diag error MaxLineLength 0: is 100, outside 1000..65536: 1000 is used instead" \
    "diag warning RelayAlowList 0: is not a value imsrelay reads (did you mean RelayAllowList?): ignored"
grep -Eq '^diag info RelayDenyList 2: holds 1 empty string' "$dump_file" ||
    e2e_fail "no note about the empty string in RelayDenyList"

e2e_log "3. reg add with the wrong types: each falls to its safe side"
reg_add "$params" /v RelayFlags /t REG_SZ /d 3
reg_add "$params" /v RelayDenyList /t REG_SZ /d 10.0.0.1
reg_add "$params" /v RelayAllowList /t REG_MULTI_SZ /d '10.0.0.0/8\0# lab'
reg_add "$params" /v ListenPort /t REG_DWORD /d 0
reg_add "$params" /v MailRoot /t REG_SZ /d imsrelay
reg_add "$params" /v SmtpHostName /t REG_SZ /d 'mx.example.com 250 ok'
reg_add "$tcpip" /v IPEnableRouter /t REG_SZ /d 0
dump
expect "RelayFlags unreadable 0" \
    "diag error RelayFlags 0: is REG_SZ, expected REG_DWORD: not used" \
    "RelayDenyList coerced 1" "RelayDenyList[1] 10.0.0.1" \
    "diag warning RelayDenyList 0: is REG_SZ, expected REG_MULTI_SZ: read as a list of one line" \
    "RelayAllowList ok 2" "RelayAllowList[2] # lab" "ListenPort unreadable 25" \
    'MailRoot unreadable C:\ProgramData\imsrelay' "IPEnableRouter unreadable 1" \
    "diag info IPEnableRouter 0: taken as 1, the safe side"
grep -Eq '^SmtpHostName unreadable [A-Za-z0-9.-]+$' "$dump_file" ||
    e2e_fail "a host name with spaces was used: $(grep SmtpHostName "$dump_file")"

e2e_log "4. RelayFlags as REG_QWORD, RelayDenyList as REG_BINARY: unreadable"
reg_add "$params" /v RelayFlags /t REG_QWORD /d 3
reg_add "$params" /v RelayDenyList /t REG_BINARY /d 0a000001
dump
expect "RelayFlags unreadable 0" "RelayDenyList unreadable 0" \
    "diag error RelayFlags 0: is REG_QWORD, expected REG_DWORD: not used" \
    "diag error RelayDenyList 0: is REG_BINARY, expected REG_MULTI_SZ: not used"

e2e_log "5. reg delete of the key: back to every default"
e2e_reg delete "$params" /f
dump
expect "RelayFlags absent 0" "RelayDenyList absent 0" "ListenPort absent 25"

e2e_pass
