#!/usr/bin/env bash
# uninstall stops and removes the service and the event source, keeps the mail, and saves
# Parameters as a .reg file that regedit /s imports back, value for value.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin uninstall
e2e_install_exe
port=$(e2e_free_port)
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
SRC='HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application\MSExchangeIMC'

e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
# Values of every kind an administrator might have, with characters .reg files escape.
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 3 /f
e2e_reg add "$K" /v RelayDenyList /t REG_MULTI_SZ /d '192.168.17.0;255.255.255.0\0# "quoted" \ comment\02001:db8::/32' /f
e2e_reg add "$K" /v SmtpHostName /t REG_SZ /d 'mx "one" \ two' /f
e2e_reg add "$K" /v MailRoot /t REG_EXPAND_SZ /d '%ProgramData%\imsrelay' /f
e2e_reg add "$K\\Users" /v alice /t REG_BINARY /d 0102030405 /f
before=$(e2e_wine reg query "$K" /s | tr -d '\r')

e2e_start_service
mkdir -p "$E2E_DRIVE_C/ProgramData/imsrelay/Drop"
echo "a message" >"$E2E_DRIVE_C/ProgramData/imsrelay/Drop/kept.eml"

out=$(e2e_wine "$E2E_EXE" uninstall 2>&1) || e2e_fail "uninstall failed: $out"
e2e_log "uninstall said: $out"
e2e_wine sc query MSExchangeIMC >/dev/null 2>&1 && e2e_fail "the service still exists"
e2e_wine reg query "$SRC" >/dev/null 2>&1 && e2e_fail "the event source is still registered"
e2e_wine reg query "$K" >/dev/null 2>&1 && e2e_fail "the Parameters key is still there"
e2e_port_open "$port" && e2e_fail "still listening after uninstall"
[ -f "$E2E_DRIVE_C/ProgramData/imsrelay/Drop/kept.eml" ] || e2e_fail "mail was not kept"
backup=$(ls "$E2E_DRIVE_C"/ProgramData/imsrelay/imsrelay-parameters-*.reg 2>/dev/null | head -n 1)
[ -n "$backup" ] || e2e_fail "no .reg backup in MailRoot"

e2e_wine regedit /s "$(winepath_w "$backup")" || e2e_fail "regedit /s of the backup failed"
after=$(e2e_wine reg query "$K" /s | tr -d '\r')
[ "$before" = "$after" ] || e2e_fail "the backup did not restore every value:
--- before
$before
--- after
$after"

# Uninstalling what is not installed is not an error.
e2e_wine "$E2E_EXE" uninstall >/dev/null 2>&1 || e2e_fail "second uninstall failed"
e2e_pass
