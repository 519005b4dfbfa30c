#!/usr/bin/env bash
# `imsrelay check`: what an administrator reads before relying on a configuration.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
e2e_begin check-command
e2e_install_exe
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'

run_check() {
    CHECK_RC=0
    CHECK_OUT=$(e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r') || CHECK_RC=$?
}
has() {
    grep -Eq -- "$1" <<<"$CHECK_OUT" || e2e_fail "check output has no line matching '$1':"$'\n'"$CHECK_OUT"
}

# No key at all: valid, but every relay is denied, and it says so.
run_check
[ "$CHECK_RC" = 0 ] || e2e_fail "check exited $CHECK_RC on an absent key"
has '^RelayFlags: absent$'
has '^effective rules: none'
has '^ListenPort: 25 \(absent: default\)$'
has '^result: valid, 0 errors'

# A good configuration with a broad allow entry: valid, with a warning.
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 3 /f
e2e_reg add "$K" /v RelayAllowList /t REG_MULTI_SZ /d '192.168.1.0;255.255.255.0\0# the office\0 10.0.0.0 ; 255.0.0.0 ' /f
e2e_reg add "$K" /v RelayDenyList /t REG_MULTI_SZ /d '192.168.1.0/29' /f
run_check
[ "$CHECK_RC" = 0 ] || e2e_fail "check exited $CHECK_RC on a valid configuration:"$'\n'"$CHECK_OUT"
has '^RelayFlags: 3$'
has '^effective rules: deny list, allow list$'
has '^RelayAllowList line 1: 192.168.1.0;255.255.255.0$'
has '^RelayAllowList line 3: warning: allows the whole private range 10.0.0.0/8'
has '^RelayDenyList line 1: 192.168.1.0/29$'
has '^result: valid, 0 errors, 1 warning$'

# Errors: a leading-zero octet in the deny list (bit 1 set: fail closed), a line that can
# never match, a RelayFlags bit that means nothing, a misspelt value name.
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 19 /f
e2e_reg add "$K" /v RelayDenyList /t REG_MULTI_SZ /d '192.168.010.1\0192.168.1.1;255.255.255.0' /f
e2e_reg add "$K" /v RelayAlowList /t REG_MULTI_SZ /d '1.2.3.4' /f
run_check
[ "$CHECK_RC" = 1 ] || e2e_fail "check exited $CHECK_RC on an invalid configuration:"$'\n'"$CHECK_OUT"
has '^RelayDenyList line 1: error: .*leading zero.*192.168.010.1'
has '^RelayDenyList line 2: warning: .*never'
has 'RelayFlags: warning: .*0x10.*no meaning'
has 'RelayAlowList.*RelayAllowList'
has '^result: invalid, [0-9]+ errors?, [0-9]+ warnings?$'
# And the decision is fail-closed.
rc=0
out=$(e2e_wine "$E2E_EXE" explain 192.168.1.50 2>&1 | tr -d '\r') || rc=$?
[ "$rc" = 1 ] || e2e_fail "explain exited $rc under a fail-closed configuration"
grep -q '^step: fail closed$' <<<"$out" || e2e_fail "explain does not say fail closed:"$'\n'"$out"

# A RelayFlags of the wrong type fails closed too.
e2e_reg add "$K" /v RelayFlags /t REG_SZ /d 3 /f
run_check
[ "$CHECK_RC" = 1 ] || e2e_fail "check exited $CHECK_RC with RelayFlags as REG_SZ"
has '^RelayFlags: .*unreadable'

# Usage.
rc=0
e2e_wine "$E2E_EXE" check extra >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || e2e_fail "check with an argument exited $rc, expected 2"

# The command line itself: help, version, unknown commands.
out=$(e2e_wine "$E2E_EXE" --help 2>&1 | tr -d '\r') || e2e_fail "--help failed"
for c in run install uninstall reload check explain user version; do
    grep -Eq "^  $c " <<<"$out" || e2e_fail "--help does not list $c:"$'\n'"$out"
done
out=$(e2e_wine "$E2E_EXE" version 2>&1 | tr -d '\r') || e2e_fail "version failed"
grep -Eq '^imsrelay [0-9]+\.[0-9]+\.[0-9]+ ' <<<"$out" || e2e_fail "version printed: $out"
rc=0
out=$(e2e_wine "$E2E_EXE" frobnicate 2>&1 | tr -d '\r') || rc=$?
[ "$rc" = 2 ] || e2e_fail "an unknown command exited $rc, expected 2"
grep -q 'unknown command' <<<"$out" || e2e_fail "an unknown command does not say so: $out"
grep -q '^usage:' <<<"$out" || e2e_fail "an unknown command does not print the usage: $out"
e2e_pass
