#!/usr/bin/env bash
# Each example of Q193922, imported the way an administrator would (regedit /s), decides
# what the article says it decides, according to `imsrelay explain`.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
e2e_begin reg-examples
e2e_install_exe

examples="$E2E_DRIVE_C/examples"
mkdir -p "$examples"
cp "$IMSRELAY_SOURCE_DIR"/installer/examples/*.reg "$examples/"

import() {
    e2e_wine regedit /s "C:\\examples\\$1" || e2e_fail "regedit /s $1 failed"
}

# expect EXIT STEP-PATTERN ARGS...: runs explain ARGS, checks its exit code and its output.
expect() {
    local want=$1 pattern=$2 out rc=0
    shift 2
    out=$(e2e_wine "$E2E_EXE" explain "$@" 2>&1 | tr -d '\r') || rc=$?
    [ "$rc" = "$want" ] || e2e_fail "explain $* exited $rc, expected $want:"$'\n'"$out"
    grep -Eq -- "$pattern" <<<"$out" || e2e_fail "explain $*: no line matching '$pattern':"$'\n'"$out"
}

import deny-list-only.reg
expect 1 '^step: deny list$' 192.168.17.5 someone@example.org
expect 1 '^rule: RelayDenyList line 1: 192.168.17.0;255.255.255.0$' 192.168.17.254
expect 1 '^reply: 550 5.7.1 <someone@example.org>... relaying prohibited$' 192.168.17.5 someone@example.org
expect 0 '^step: only bit 1$' 192.168.18.5 someone@example.org
expect 0 '^verdict: relaying allowed$' 10.9.8.7

import allow-list-only.reg
expect 0 '^rule: RelayAllowList line 1: 192.168.1.0;255.255.255.0$' 192.168.1.50
expect 1 '^step: default deny$' 192.168.2.1
expect 1 '^verdict: relaying denied$' 192.168.17.5 # the deny list of the last example is gone
# An IPv4-mapped IPv6 client is the IPv4 client it carries.
expect 0 '^step: allow list$' ::ffff:192.168.1.50

import subnet-except-subset.reg
for host in 0 1 2 3 4 5 6 7; do
    expect 1 '^step: deny list$' "192.168.1.$host"
done
expect 0 '^step: allow list$' 192.168.1.8
expect 0 '^step: allow list$' 192.168.1.254
expect 1 '^step: default deny$' 192.168.2.8

import local-interfaces.reg
expect 0 '^rule: RelayLocalIPList line 1: 10.0.0.1$' 198.51.100.7 --local 10.0.0.1 friend@example.org
expect 1 '^step: default deny$' 198.51.100.7 --local 203.0.113.1
expect 1 '^step: default deny$' 198.51.100.7
# IP forwarding on: the local-IP list is no longer in effect (the article's condition).
e2e_reg add 'HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters' /v IPEnableRouter /t REG_DWORD /d 1 /f
expect 1 '^step: default deny$' 198.51.100.7 --local 10.0.0.1
check=$(e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r' || true)
grep -q 'local-IP list ignored: IP forwarding is on' <<<"$check" || e2e_fail "check does not say the local-IP list is ignored:"$'\n'"$check"
e2e_reg add 'HKLM\SYSTEM\CurrentControlSet\Services\Tcpip\Parameters' /v IPEnableRouter /t REG_DWORD /d 0 /f
expect 0 '^step: local-IP list$' 198.51.100.7 --local 10.0.0.1

import authenticated-clients.reg
expect 0 '^step: authenticated$' 203.0.113.9 --auth alice someone@example.org
expect 1 '^step: default deny$' 203.0.113.9 someone@example.org

# Local recipients need no relay decision, whatever the rules.
e2e_reg add 'HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters' /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
expect 0 '^recipient: alice@example.com is local' 203.0.113.9 alice@example.com
expect 0 '^verdict: accepted$' 203.0.113.9 postmaster
# Relay tricks are never local.
expect 1 'is not local' 203.0.113.9 'bob%elsewhere.org@example.com'
expect 1 'is not local' 203.0.113.9 'elsewhere.org!bob@example.com'
expect 1 'is not local' 203.0.113.9 '@example.com:bob@elsewhere.org'

# Usage errors.
expect 2 'usage' 
expect 2 'not a client address: .*leading zero' 192.168.010.1
expect 2 'unknown option' 192.168.1.1 --nonsense
expect 2 'not a recipient address' 192.168.1.1 'not an address'
e2e_pass
