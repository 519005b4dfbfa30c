#!/usr/bin/env bash
# The findings of issue 14 ("Hold up under hostile load"), measured the way the issue measured
# them before the fix, against any build of imsrelay.exe, so that the figures of one build can
# be set beside another's (the closing note of issue 14 compares 6a6839a, the commit before
# the work, with the fix):
#
#   IMSRELAY_EXE=out/win/service/imsrelay.exe tests/bench/hostile/findings.sh [FINDING...]
#
# FINDING: 1..7 (default all); about 7 minutes for all on 2 busy cores. Not part of
# `make test` nor `make bench`: it judges nothing, it prints one "figure: N ..." line per
# finding (and "detail:" lines), and the load of the machine at each step (the figures of 3
# and 6 are times and depend on it). Needs: python3, strace (attached to the service, so root
# or ptrace allowed), about 1.5 GB free under out/wine for Tmp and 100 MB for a .reg file.
#
# How: the exe is installed as the service on a fresh Wine prefix (tests/wine/lib.sh), with
# the SHIPPED DEFAULTS except: ListenPort (a free port), ListenAddresses 127.0.0.1 (loopback
# only), MailRoot C:\mail, LocalDomains example.com and SmtpHostName (so that DATA to
# bob@example.com is accepted), RelayFlags 3, AuthWithoutTls 1 when the exe knows that value
# (AUTH in clear, as the build before STARTTLS offered it), an account made with `imsrelay.exe
# user add`; and, for finding 1 only, IdleTimeoutSeconds 10 and MaxConnections 500. Clients
# bind 127.x source addresses (tests/bench/hostile/findings.py).
#  1 slow senders: 500 sessions from 25 addresses (20 each), half inside a command line, half
#    inside DATA, one byte every 5 s; how many are still open 90 s after the last got going,
#    and what a legitimate client from another address gets, once a second for 60 s.
#  2 disk held in Tmp: 50 sessions (10 addresses) each send 9 MiB of DATA, then one byte every
#    5 s; the bytes in MailRoot\Tmp over the following minute. Then (a detail line) the same
#    from 150 sessions, past the shipped TmpMaxMegabytes. FINDINGS_TMP_HOLD=SECONDS watches
#    longer than the minute (330: past the shipped CommandTimeoutSeconds of 300, after which
#    a sender that trickles after its burst is cut); FINDINGS_TMP150=0 leaves out the
#    150-session detail.
#  3 AUTH flood: 200 attackers on 127.0.3.1-200 (wrong password for a real account, up to 3
#    a session, reconnecting) for 30 s, then 200 all from 127.0.3.1 for 30 s; the worst NOOP
#    time of a bystander connected before (and its NOOP time before the flood).
#  4 protocol log: 10 sessions send 10.5 MB of 998-byte 0xFF command lines; log bytes written
#    per byte received.
#  5 denial events: 150 clients (127.0.30.1-150) get one denied RCPT each within a minute;
#    denial events written (counted after net stop, which writes pending summaries), and the
#    reverse lookups the service made (its connects to port 53, seen by strace -f).
#  6 `imsrelay.exe check` with 10,000 / 20,000 / 40,000 RelayAllowList lines that each earn a
#    warning (10.0.0.0/8: allows a whole private range), with the service stopped: wall time
#    of check, beside its time with no allow list (the cost of starting a Wine process).
#  7 qualitative: does `check` warn when MailRoot\Queue is on another volume (a drive D: on
#    tmpfs, Queue a symbolic link into it); does `check`, and the start of the service, warn
#    about a RelayDenyList of 16 MiB of NUL bytes under RelayFlags 1, and does a client then
#    relay.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export IMSRELAY_SOURCE_DIR="${IMSRELAY_SOURCE_DIR:-$(cd "$here/../../.." && pwd)}"
if [ ! -f "${IMSRELAY_EXE:-}" ]; then
    echo "usage: IMSRELAY_EXE=path/to/imsrelay.exe $0 [FINDING...]" >&2
    exit 2
fi
IMSRELAY_EXE=$(readlink -f "$IMSRELAY_EXE")
export IMSRELAY_EXE
findings=${*:-1 2 3 4 5 6 7}
wants() { [[ " $findings " == *" $1 "* ]]; }

source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
label=$(sha256sum "$IMSRELAY_EXE" | cut -c1-8)
e2e_begin "findings-$label"
volume="/dev/shm/imsrelay-findings-$label"
trap 'rc=$?; rm -rf "$volume" "$E2E_DIR"/*.reg; (exit $rc); _e2e_cleanup' EXIT

load() { echo "detail: load $(cut -d' ' -f1-3 /proc/loadavg) before $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

echo "detail: exe $IMSRELAY_EXE (sha256 $label), $(date -u '+%F %T') UTC, $(nproc) cores"
e2e_install_exe
e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
KEY='[HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters]'
dword() { e2e_reg add "$K" /v "$1" /t REG_DWORD /d "$2" /f; }
port=$(e2e_free_port)
dword ListenPort "$port"
e2e_reg add "$K" /v ListenAddresses /t REG_MULTI_SZ /d '127.0.0.1' /f
e2e_reg add "$K" /v MailRoot /t REG_SZ /d 'C:\mail' /f
e2e_reg add "$K" /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
e2e_reg add "$K" /v SmtpHostName /t REG_SZ /d 'mx.example.com' /f
dword RelayFlags 3
# `check` lists every setting the exe knows, present or not.
if e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r' | grep -q '^AuthWithoutTls:'; then
    dword AuthWithoutTls 1
    echo "detail: this exe knows AuthWithoutTls: set to 1"
fi
export FINDINGS_ACCOUNT=flood FINDINGS_PASSWORD=correct-horse-7
echo "$FINDINGS_PASSWORD" | e2e_wine "$E2E_EXE" user add "$FINDINGS_ACCOUNT" --password-stdin \
    >/dev/null 2>&1 || e2e_fail "user add failed"
export IMSRELAY_PORT=$port IMSRELAY_MAILROOT="$E2E_DRIVE_C/mail"
driver() { timeout 900 python3 "$here/findings.py" "$@"; }
start() {
    e2e_start_service
    e2e_wait 60 e2e_port_open "$port"
}

if wants 1; then
    dword IdleTimeoutSeconds 10
    dword MaxConnections 500
    start
    load "finding 1"
    driver slow || e2e_fail "finding 1 driver failed"
    e2e_stop_service
    e2e_reg delete "$K" /v IdleTimeoutSeconds /f
    e2e_reg delete "$K" /v MaxConnections /f
fi

if wants 2 || wants 3 || wants 4 || wants 5; then
    start
    for f in 2 3 4; do
        if wants $f; then
            load "finding $f"
            case $f in
            2) if [ "${FINDINGS_TMP150:-1}" = 1 ]; then driver tmp tmp150; else driver tmp; fi ;;
            3) driver auth ;;
            4) driver log ;;
            esac || e2e_fail "finding $f driver failed"
        fi
    done
    if wants 5; then
        load "finding 5"
        pid=$(e2e_exe_pid) || e2e_fail "no service process"
        strace -f -qq -e trace=connect -o "$E2E_DIR/strace.txt" -p "$pid" &
        strace_pid=$!
        sleep 2
        driver denials || e2e_fail "finding 5 driver failed"
        # Events and their lookups trail the replies: wait until no new event for 5 s.
        last=-1 stable=0 deadline=$((SECONDS + 60))
        while [ $stable -lt 5 ] && [ $SECONDS -lt $deadline ]; do
            n=$(grep -c ReportEventW "$E2E_EVENTS" || true)
            if [ "$n" = "$last" ]; then stable=$((stable + 1)); else stable=0 last=$n; fi
            sleep 1
        done
        kill "$strace_pid" 2>/dev/null || true
        wait "$strace_pid" 2>/dev/null || true
    fi
    e2e_stop_service
    if wants 5; then
        written=$(e2e_events_count 'ReportEventW L"[^"]*no rule allows 127\.0\.30\.')
        unlooked=$(e2e_events_count 'ReportEventW L"[^"]*not looked up')
        lookups=$(grep -c 'htons(53)' "$E2E_DIR/strace.txt" || true)
        counted=$(python3 - "$E2E_EVENTS" <<'PY'
import re, sys
# Each insertion string is a line "TID:class:eventlog:ReportEventW L"text""; the strings of
# events written at once by different threads interleave, so an event is the run of lines
# of one thread.
lines = [(m.group(1), m.group(2)) for l in open(sys.argv[1], errors="replace")
         for m in [re.match(r'([0-9a-f]+):\w+:eventlog:ReportEventW L"(.*)"$', l.rstrip("\n"))] if m]
total = 0
for i, (tid, text) in enumerate(lines):
    nxt = next((t for d, t in lines[i + 1:i + 200] if d == tid), None)
    # Event 1009 (denials not logged): count, then the client (an address or "all client
    # addresses"); only the ones for the attack's addresses or for all of them.
    if text.isdigit() and nxt is not None and (nxt == "all client addresses" or nxt.startswith("127.0.30.")):
        total += int(text)
print(total)
PY
        )
        echo "figure: 5 denial events: 150 clients with one denied RCPT each within a minute: $written denial events written ($unlooked of them 'not looked up'), $counted denials counted in suppression summaries; reverse lookups made by the service (connects to port 53): $lookups"
    fi
fi

if wants 6; then
    load "finding 6"
    # allow_list_reg N FILE: a .reg file setting RelayAllowList to N lines that each earn a
    # warning ("allows the whole private range 10.0.0.0/8", not capped before the fix as the
    # per-line problems were), UTF-16LE as regedit exports.
    allow_list_reg() {
        python3 - "$1" "$2" "$KEY" <<'PY'
import sys
n, out, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lines = ["10.0.0.0/8"] * n
data = "".join(l + "\0" for l in lines) + "\0"
hexs = ",".join("%02x" % b for b in data.encode("utf-16-le"))
text = f"Windows Registry Editor Version 5.00\r\n\r\n{key}\r\n\"RelayAllowList\"=hex(7):{hexs}\r\n\r\n"
open(out, "wb").write(b"\xff\xfe" + text.encode("utf-16-le"))
PY
    }
    line="figure: 6 check with allow lines that each earn a warning:"
    for n in 0 10000 20000 40000; do
        if [ "$n" = 0 ]; then
            e2e_wine reg delete "$K" /v RelayAllowList /f >/dev/null 2>&1 || true
        else
            allow_list_reg "$n" "$E2E_DIR/allow-$n.reg"
            e2e_wine regedit /s "$(winepath_w "$E2E_DIR/allow-$n.reg")" ||
                e2e_fail "regedit could not import $n allow lines"
        fi
        t=$(now)
        result=$(timeout 1800 env WINEDEBUG=-all "$WINE" "$E2E_EXE" check 2>&1 | tr -d '\r' |
            grep '^result:' || true)
        took=$(since "$t")
        echo "detail: check with $n allow lines: $took s, $result"
        line="$line $n lines $took s ($(grep -Eo '[0-9]+ warnings?' <<<"$result" || echo "? warnings"));"
    done
    echo "${line%;}"
    e2e_wine reg delete "$K" /v RelayAllowList /f >/dev/null 2>&1 || true
fi

if wants 7; then
    load "finding 7"
    # A second volume: drive D: on tmpfs, and MailRoot\Queue a link into it.
    mkdir -p "$volume/Queue" "$E2E_DRIVE_C/mail/Tmp" "$E2E_DRIVE_C/mail/Queue"
    ln -sfn "$volume" "$WINEPREFIX/dosdevices/d:"
    mv "$E2E_DRIVE_C/mail/Queue" "$E2E_DRIVE_C/mail/Queue.kept"
    ln -s "$volume/Queue" "$E2E_DRIVE_C/mail/Queue"
    out=$(e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r') || true
    queue_warning=$(grep -i 'volume' <<<"$out" | head -n 1 || true)
    rm "$E2E_DRIVE_C/mail/Queue" "$WINEPREFIX/dosdevices/d:"
    mv "$E2E_DRIVE_C/mail/Queue.kept" "$E2E_DRIVE_C/mail/Queue"
    rm -rf "$volume"
    echo "detail: queue on D: (tmpfs), check says: ${queue_warning:-nothing about volumes}"

    # 16 MiB of NUL bytes as RelayDenyList, under RelayFlags 1 (deny list only).
    python3 - "$E2E_DIR/deny-of-zeros.reg" "$KEY" <<'PY'
import sys
out, key = sys.argv[1], sys.argv[2]
text = f"Windows Registry Editor Version 5.00\r\n\r\n{key}\r\n\"RelayDenyList\"=hex(7):" + \
    ",".join(["00"] * (16 * 1024 * 1024)) + "\r\n\r\n"
open(out, "wb").write(b"\xff\xfe" + text.encode("utf-16-le"))
PY
    e2e_wine regedit /s "$(winepath_w "$E2E_DIR/deny-of-zeros.reg")" || e2e_fail "regedit could not import the NUL list"
    rm -f "$E2E_DIR/deny-of-zeros.reg"
    dword RelayFlags 1
    out=$(e2e_wine "$E2E_EXE" check 2>&1 | tr -d '\r') || true
    deny_check=$(grep '^RelayDenyList' <<<"$out" | tr '\n' ' ' || true)
    echo "detail: NUL deny list, check says: $deny_check"
    before=$(e2e_events_count 'not one rule')
    start
    sleep 3
    events=$(($(e2e_events_count 'not one rule') - before))
    relay=$(e2e_rcpt "$port" 127.0.0.1 someone@far.test || true)
    e2e_stop_service
    if grep -q 'not one rule' <<<"$deny_check"; then nul_check=yes; else nul_check=no; fi
    echo "figure: 7 qualitative: check warns about Queue on another volume: $([ -n "$queue_warning" ] && echo yes || echo no); check warns that a 16 MiB RelayDenyList of NUL bytes has bytes but no rule: $nul_check; start events saying it has no rule: $events; check's RelayDenyList lines: $(grep -c '^RelayDenyList.*warning' <<<"$out" || true) warning(s); RCPT to far.test from 127.0.0.1 under RelayFlags 1 then: $relay"
fi
load "the end"
e2e_pass
