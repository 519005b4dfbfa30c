#!/usr/bin/env bash
# imsrelay-setup.exe /S installs to Program Files, registers the service (imsrelay.exe
# install) and an entry in Add/Remove Programs; the service then runs; the uninstaller /S
# removes the service, the files and the entry, and keeps the configuration as .reg.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
[ -f "${IMSRELAY_SETUP:-}" ] || { echo "IMSRELAY_SETUP is not the built installer" >&2; exit 1; }
e2e_begin installer
port=$(e2e_free_port)
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
ARP='HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\imsrelay'
dir="$E2E_DRIVE_C/Program Files/imsrelay"

cp "$IMSRELAY_SETUP" "$E2E_DRIVE_C/imsrelay-setup.exe"
e2e_wine 'C:\imsrelay-setup.exe' /S || e2e_fail "silent install failed"
[ -f "$dir/imsrelay.exe" ] || e2e_fail "imsrelay.exe not in Program Files"
[ -f "$dir/uninstall.exe" ] || e2e_fail "no uninstaller"
ls "$dir"/examples/*.reg >/dev/null 2>&1 || e2e_fail "no example .reg files"
[ "$(e2e_reg_query "$ARP" UninstallString)" = '"C:\Program Files\imsrelay\uninstall.exe"' ] ||
    e2e_fail "no Add/Remove Programs entry"
[ "$(e2e_reg_query "$ARP" QuietUninstallString)" = '"C:\Program Files\imsrelay\uninstall.exe" /S' ] ||
    e2e_fail "no quiet uninstall string"
[ "$(e2e_reg_query "$K" RelayFlags)" = 0x2 ] || e2e_fail "imsrelay.exe install did not run"

e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_start_service
e2e_wait 60 e2e_port_open "$port"

# An upgrade over the running service: stopped, replaced, started again, settings kept.
e2e_wine 'C:\imsrelay-setup.exe' /S || e2e_fail "silent upgrade failed"
e2e_wait 120 e2e_service_state RUNNING
e2e_wait 60 e2e_port_open "$port"
[ "$(e2e_reg_query "$K" ListenPort)" = "$(printf '0x%x' "$port")" ] || e2e_fail "upgrade lost ListenPort"
[ "$(e2e_events_count 'stop requested by the Service Control Manager')" = 1 ] ||
    e2e_fail "the upgrade did not stop the service before replacing it"

# The uninstaller copies itself away and returns at once: wait for its work to be done.
e2e_wine 'C:\Program Files\imsrelay\uninstall.exe' /S || e2e_fail "silent uninstall failed"
gone() {
    ! e2e_wine sc query MSExchangeIMC && [ ! -e "$dir/imsrelay.exe" ] &&
        ! e2e_wine reg query "$ARP"
}
e2e_wait 60 gone
e2e_port_open "$port" && e2e_fail "still listening after uninstall"
ls "$E2E_DRIVE_C"/ProgramData/imsrelay/imsrelay-parameters-*.reg >/dev/null 2>&1 ||
    e2e_fail "the configuration was not saved"
e2e_pass
