#!/usr/bin/env bash
# The policy key as Group Policy writes it (HKLM\SOFTWARE\Policies\imsrelay), against the
# installed service: a value set only there takes effect; a policy value shadows a
# conflicting Parameters value (and `check` says which is in force); deleting the policy
# value restores the Parameters one, live; a bad policy value is refused and the previous
# rules stay in force, with an error that names the policy key.
set -euo pipefail
source "${IMSRELAY_SOURCE_DIR:-$(dirname "$0")/../../..}/tests/wine/lib.sh"
e2e_begin policy
e2e_install_exe
port=$(e2e_free_port)
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
P='HKLM\SOFTWARE\Policies\imsrelay'
rcpt_is() { [ "$(e2e_rcpt "$port" "$1" user@far.test)" = "$2" ]; }

e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
# Parameters: only 127.0.0.1 may relay (install's defaults, RelayFlags 2).
# The policy: 127.0.0.7 may relay instead, before the service starts.
e2e_reg add "$P" /v RelayAllowList /t REG_MULTI_SZ /d '127.0.0.7' /f

out=$(e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r') || true
grep -Eq '^policy key: HKLM\\SOFTWARE\\Policies\\imsrelay: 1 value in force \(marked "from the policy key"; they win over Parameters, whose values are unmarked\)$' <<<"$out" ||
    e2e_fail "check does not count the policy value:"$'\n'"$out"
grep -Eq '^RelayAllowList: 1 line, 1 not blank or comment \(from the policy key\)$' <<<"$out" ||
    e2e_fail "check does not say the allow list comes from the policy key:"$'\n'"$out"
grep -Eq '^RelayAllowList line 1: 127\.0\.0\.7$' <<<"$out" ||
    e2e_fail "check does not show the policy's line:"$'\n'"$out"
grep -Eq '^RelayAllowList: warning: is set in Parameters and in the policy key' <<<"$out" ||
    e2e_fail "check does not warn that Parameters is shadowed:"$'\n'"$out"
grep -Eq '^RelayFlags: 2$' <<<"$out" || e2e_fail "RelayFlags should come from Parameters:"$'\n'"$out"

e2e_start_service
e2e_wait 20 e2e_port_open "$port"
[ "$(e2e_rcpt "$port" 127.0.0.7 user@far.test)" = 250 ] || e2e_fail "the policy's allow list is not in force"
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 550 ] || e2e_fail "the shadowed Parameters list is in force"
out=$(e2e_wine "$E2E_EXE" explain 127.0.0.7 user@far.test 2>&1 | tr -d '\r') || true
grep -Eq '^rule: RelayAllowList line 1: 127\.0\.0\.7$' <<<"$out" || e2e_fail "explain:"$'\n'"$out"
grep -Eq '^rule from: the policy key HKLM\\SOFTWARE\\Policies\\imsrelay$' <<<"$out" ||
    e2e_fail "explain does not say the deciding line is the policy's:"$'\n'"$out"
grep -Eq '^RelayFlags from: Parameters$' <<<"$out" || e2e_fail "explain:"$'\n'"$out"

# A value only the policy sets: RelayFlags 3 with a deny list from the policy too.
e2e_reg add "$P" /v RelayDenyList /t REG_MULTI_SZ /d '127.0.0.7' /f
e2e_reg add "$P" /v RelayFlags /t REG_DWORD /d 3 /f
e2e_wait 30 rcpt_is 127.0.0.7 550 # the policy's RelayFlags and deny list in force

# Deleting the policy values restores the Parameters ones, live.
e2e_reg delete "$P" /v RelayDenyList /f
e2e_reg delete "$P" /v RelayFlags /f
e2e_reg delete "$P" /v RelayAllowList /f
e2e_wait 30 rcpt_is 127.0.0.1 250 # the Parameters allow list is back
[ "$(e2e_rcpt "$port" 127.0.0.7 user@far.test)" = 550 ] || e2e_fail "the deleted policy is still in force"

# A bad policy value (a leading-zero octet in the deny list with bit 1 set) is refused, the
# error names the policy key, and the rules in force stay.
e2e_reg add "$P" /v RelayFlags /t REG_DWORD /d 3 /f
e2e_reg add "$P" /v RelayDenyList /t REG_MULTI_SZ /d '127.000.0.9' /f
e2e_events_wait 30 'the new configuration has [0-9]+ error'
e2e_events_wait 5 "the value is the policy key.s, HKLM.+SOFTWARE.+Policies.+imsrelay"
[ "$(e2e_rcpt "$port" 127.0.0.1 user@far.test)" = 250 ] || e2e_fail "a refused policy took effect"

# `policy show` lists the key as written; `policy export` writes this server's effective
# settings as a Registry.pol that an independent reader (below) finds exact.
out=$(e2e_wine "$E2E_EXE" policy show 2>&1 | tr -d '\r') || e2e_fail "policy show failed: $out"
grep -Eq '^  RelayFlags: REG_DWORD 3$' <<<"$out" || e2e_fail "policy show:"$'\n'"$out"
grep -Eq '^  RelayDenyList: REG_MULTI_SZ 127\.000\.0\.9$' <<<"$out" || e2e_fail "policy show:"$'\n'"$out"
e2e_reg delete "$P" /v RelayDenyList /f
e2e_reg add "$K" /v RelayAllowList /t REG_MULTI_SZ /d '127.0.0.1\0# the office\0127.0.0.2' /f
e2e_wine "$E2E_EXE" policy export 'C:\fleet.pol' >/dev/null || e2e_fail "policy export failed"
pol="$WINEPREFIX/drive_c/fleet.pol"
/usr/bin/python3 - "$pol" "$port" <<'PY' || e2e_fail "the exported Registry.pol is not what this server runs"
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"PReg" and struct.unpack("<I", data[4:8])[0] == 1, "header"
records, at = {}, 8
def string(at):
    end = at
    while data[end:end + 2] != b"\0\0":
        end += 2
    return data[at:end].decode("utf-16-le"), end + 2
while at < len(data):
    assert data[at:at + 2] == "[".encode("utf-16-le"), "["
    key, at = string(at + 2)
    assert data[at:at + 2] == ";".encode("utf-16-le")
    name, at = string(at + 2)
    kind, = struct.unpack("<I", data[at + 2:at + 6])
    size, = struct.unpack("<I", data[at + 8:at + 12])
    value = data[at + 14:at + 14 + size]
    at += 14 + size
    assert data[at:at + 2] == "]".encode("utf-16-le"), "]"
    at += 2
    assert key == "SOFTWARE\\Policies\\imsrelay", key
    records[name] = (kind, value)
want = {
    "RelayFlags": (4, struct.pack("<I", 3)),  # from the policy key
    "ListenPort": (4, struct.pack("<I", int(sys.argv[2]))),
    "RelayAllowList": (7, "127.0.0.1\x00# the office\x00127.0.0.2\x00\x00".encode("utf-16-le")),
}
# install's defaults that are set (LocalDomains when the machine has a domain) may be there too
extra = set(records) - set(want) - {"LocalDomains"}
assert not extra, "unexpected records %s" % extra
for name, value in want.items():
    assert records.get(name) == value, "%s: %r" % (name, records.get(name))
assert "MailRoot" not in records and "SmtpHostName" not in records
PY

e2e_net_stop 30
e2e_pass
