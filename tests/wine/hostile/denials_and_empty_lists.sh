#!/usr/bin/env bash
# Issue 14, findings 5 and 7, against the installed service: denials from many client
# addresses write at most DenialEventsPerMinuteTotal events a minute, and the rest are
# counted in a summary for "all client addresses" (nothing unaccounted); a RelayDenyList
# that has bytes but no rule (NUL bytes) is warned about loudly by `check` and by the
# service when it is put in force.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
e2e_begin denials-many
e2e_install_exe
e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
KEY='[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters]'
port=$(e2e_free_port)
dword() { e2e_reg add "$K" /v "$1" /t REG_DWORD /d "$2" /f; }
dword ListenPort "$port"
dword DenialEventsPerMinute 10
dword DenialEventsPerMinuteTotal 20
dword DenialLookupsPerMinute 5
e2e_start_service
e2e_wait 60 e2e_port_open "$port"

# 150 clients, one denied RCPT each, from 127.0.30.1 .. 127.0.30.150.
/usr/bin/python3 - "$port" <<'PY' || e2e_fail "the denied clients did not get their 550"
import socket, sys
port = int(sys.argv[1])
for i in range(1, 151):
    s = socket.socket()
    s.bind((f"127.0.30.{i}", 0))
    s.settimeout(60)
    s.connect(("127.0.0.1", port))
    f = s.makefile("rb")
    def reply():
        while True:
            line = f.readline()
            if not line or line[3:4] != b"-":
                return line
    assert reply().startswith(b"220")
    for cmd, want in ((b"EHLO many.test", b"250"), (b"MAIL FROM:<a@many.test>", b"250"),
                      (b"RCPT TO:<b@far.test>", b"550"), (b"QUIT", b"221")):
        s.sendall(cmd + b"\r\n")
        got = reply()
        assert got.startswith(want), (i, cmd, got)
    s.close()
PY
denied='ReportEventW L"denied: no rule allows 127\.0\.30\.'
e2e_events_wait 60 "$denied"
e2e_stop_service # the stop flushes every pending summary
written=$(e2e_events_count "$denied")
e2e_log "denial events written: $written of 150"
[ "$written" -le 20 ] || e2e_fail "$written denial events from 150 addresses, the total limit is 20"
[ "$written" -ge 10 ] || e2e_fail "only $written denial events: the limit should let 20 through"
# The summary for all addresses: count, "all client addresses", seconds, limit.
/usr/bin/python3 - "$E2E_EVENTS" "$written" <<'PY' || e2e_fail "the suppressed denials are not all counted"
import re, sys
lines = [l.rstrip("\n") for l in open(sys.argv[1], errors="replace")]
texts = [m.group(1) for l in lines for m in [re.search(r'ReportEventW L"(.*)"$', l)] if m]
counted = 0
for i, t in enumerate(texts):
    if t == "all client addresses" and i > 0 and texts[i - 1].isdigit():
        counted += int(texts[i - 1])
written = int(sys.argv[2])
print(f"suppressed and counted for all client addresses: {counted}")
assert written + counted == 150, (written, counted)
PY

# A deny list of NUL bytes only: check warns, and so does the start event stream.
e2e_reg_import "$KEY" "\"RelayFlags\"=dword:00000001" \
    "\"RelayDenyList\"=hex(7):$(printf '00,%.0s' $(seq 1 511))00"
out=$(e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r') || true
grep -Eq '^RelayDenyList: warning: has 512 bytes but not one rule .*under RelayFlags 1 every client may relay' <<<"$out" ||
    e2e_fail "check does not warn about a deny list of NUL bytes:"$'\n'"$out"
e2e_start_service
e2e_events_wait 60 'has 512 bytes but not one rule'
e2e_stop_service
e2e_pass
