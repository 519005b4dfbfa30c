#!/usr/bin/env bash
# install is idempotent: a second run succeeds, repairs the service's settings and never
# overwrites a value an administrator set.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin install-twice
e2e_install_exe
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
S='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC'

e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "first install failed"
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 9 /f
e2e_reg add "$K" /v RelayAllowList /t REG_MULTI_SZ /d '10.0.0.0;255.0.0.0\0192.168.1.7' /f
e2e_reg add "$S" /v Start /t REG_DWORD /d 3 /f

out=$(e2e_wine "$E2E_EXE" install 2>&1) || e2e_fail "second install failed: $out"
grep -q 'RelayFlags: kept' <<<"$out" || e2e_fail "second install did not say it kept RelayFlags: $out"
grep -q 'existing access rights kept' <<<"$out" || e2e_fail "second install replaced MailRoot's ACL: $out"
[ "$(e2e_reg_query "$K" RelayFlags)" = 0x9 ] || e2e_fail "RelayFlags overwritten"
[ "$(e2e_reg_query "$K" RelayAllowList)" = '10.0.0.0;255.0.0.0\0192.168.1.7' ] ||
    e2e_fail "RelayAllowList overwritten: $(e2e_reg_query "$K" RelayAllowList)"
[ "$(e2e_reg_query "$S" Start)" = 0x2 ] || e2e_fail "the service's start type was not repaired"
e2e_wine sc query MSExchangeIMC >/dev/null || e2e_fail "service missing after the second install"
e2e_pass
