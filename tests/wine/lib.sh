# Shared helpers for the Wine end-to-end tests: each test gets a throwaway prefix of its own,
# a persistent wineserver for it, and the Application Event Log of the services it starts
# captured in a file. Source it from a test script (bash, set -euo pipefail):
#
#   source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
#   e2e_begin my-test                # fresh prefix out/wine/e2e-win-my-test, events captured
#   e2e_install_exe                  # imsrelay.exe copied to C:\Program Files\imsrelay
#   e2e_wine "$E2E_EXE" install      # any Windows program, in this prefix
#   e2e_wait 60 e2e_service_state RUNNING
#   e2e_events_wait 60 'some text'   # the event capture shows it (grep -E)
#   e2e_stop_service                 # net stop, then STOPPED and its process gone
#   e2e_pass                         # or e2e_fail "why"; cleanup runs on any exit
#
# Input: IMSRELAY_EXE (the built imsrelay.exe, for e2e_install_exe), IMSRELAY_SOURCE_DIR.
# Output variables: WINEPREFIX, E2E_DIR (the test's scratch folder), E2E_EVENTS (the event
# capture: Wine prints each event's insertion strings on its "eventlog" debug channel, one
# line per string, "err:" for error events, "warn:" for warnings, "trace:" for the rest),
# E2E_EXE (Windows path of the installed exe), E2E_DRIVE_C.
# E2E_KEEP=1 keeps the prefix and the wineserver for a look afterwards.
#
# Waits are on conditions, each with a deadline: generous (tens of seconds), because the
# suite runs on machines busy with other work, where a Wine process takes seconds to start;
# bounded, so that what never happens fails the test instead of hanging it.

# Under set -e a command that fails outside an `|| e2e_fail` ends the test without a word;
# say which one did (bash runs the trap in functions and subshells too, with set -E).
set -E
trap '_e2e_err_report $? "$BASH_COMMAND" "${BASH_SOURCE[0]}" $LINENO' ERR
_e2e_err_report() {
    case $- in
    *e*) echo "FAIL: exit $1 from \`$2\` (${3##*/}:$4)" >&2 ;;
    esac
}

_e2e_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMSRELAY_SOURCE_DIR="${IMSRELAY_SOURCE_DIR:-$_e2e_root}"

e2e_log() {
    echo "[$(date +%H:%M:%S)] $*" >&2
}

e2e_fail() {
    echo "FAIL: $*" >&2
    if [ -n "${E2E_EVENTS:-}" ] && [ -f "$E2E_EVENTS" ]; then
        echo "--- event capture ($E2E_EVENTS), last lines:" >&2
        tail -n 40 "$E2E_EVENTS" >&2
        if [ ! -s "$E2E_EVENTS" ] && [ -n "${WINEPREFIX:-}" ]; then
            echo "--- the capture is empty; this prefix's services.exe runs with" \
                "WINEDEBUG=$(_e2e_services_debug || true)" >&2
        fi
    fi
    exit 1
}

e2e_pass() {
    echo "PASS: ${E2E_NAME:-test}"
    exit 0
}

# e2e_wine PROGRAM ARGS...: runs a Windows program in the test's prefix, quietly.
e2e_wine() {
    WINEDEBUG=-all "$WINE" "$@"
}

# e2e_reg add|delete ARGS...: Wine's reg.exe. On a loaded machine it has exited 1 without a
# word now and then (CI saw it, in a test that had run hundreds of times): it is tried up to
# three times, and a third failure fails the test with reg's own output, so that a real
# refusal is still reported. For `add` and for `delete` of something that exists (both with
# /f, so a repeat is harmless); a delete that may find nothing is `e2e_wine reg delete ... ||
# true`.
e2e_reg() {
    local out try
    for try in 1 2 3; do
        if out=$(e2e_wine reg "$@" 2>&1); then
            return 0
        fi
        sleep 0.5
    done
    e2e_fail "reg $* failed three times: $out"
}

# e2e_wait SECONDS COMMAND...: runs COMMAND every 0.2 s until it succeeds; fails the test
# when it has not within SECONDS (a busy machine: give tens of seconds).
e2e_wait() {
    local seconds=$1
    shift
    local deadline=$((SECONDS + seconds))
    while ! "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            e2e_fail "waited ${seconds}s for: $*"
        fi
        sleep 0.2
    done
}

# e2e_events_wait SECONDS PATTERN: waits until the event capture has a line matching the
# extended regular expression PATTERN.
e2e_events_wait() {
    e2e_wait "$1" grep -Eq -- "$2" "$E2E_EVENTS"
}

# e2e_events_count PATTERN: how many captured lines match PATTERN.
e2e_events_count() {
    grep -Ec -- "$1" "$E2E_EVENTS" || true
}

# e2e_events_wait_more SECONDS BEFORE PATTERN: waits until more than BEFORE captured lines
# match PATTERN (BEFORE taken with e2e_events_count before the change that should add one).
e2e_events_wait_more() {
    e2e_wait "$1" _e2e_events_more "$2" "$3"
}

_e2e_events_more() {
    [ "$(e2e_events_count "$2")" -gt "$1" ]
}

# e2e_free_port: a TCP port nobody uses right now, below Linux's ephemeral range
# (32768-60999): a port the kernel handed out could be taken again, as the source port of
# any client connection on the machine, before the service binds it.
e2e_free_port() {
    python3 -c '
import random, socket
for _ in range(200):
    port = random.randint(20000, 32000)
    s = socket.socket()
    try:
        s.bind(("0.0.0.0", port))
    except OSError:
        continue
    finally:
        s.close()
    print(port)
    break
else:
    raise SystemExit("no free port between 20000 and 32000")
'
}

# e2e_port_open PORT [HOST]: something accepts connections there.
e2e_port_open() {
    python3 - "$1" "${2:-127.0.0.1}" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect((sys.argv[2], int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

# e2e_service_state STATE [NAME]: `sc query` shows the service (default MSExchangeIMC) in
# STATE (RUNNING, STOPPED, START_PENDING...).
e2e_service_state() {
    e2e_wine sc query "${2:-MSExchangeIMC}" 2>/dev/null | tr -d '\r' | grep -Eq "STATE +: +[0-9]+ +$1"
}

# e2e_prefix_pid REGEX: the Linux pid of a process of this prefix (under Wine a Windows
# process is a Linux process, told apart from other prefixes' by its WINEPREFIX) one of
# whose command-line arguments matches the extended REGEX, case-insensitively; none: status 1.
e2e_prefix_pid() {
    local d
    for d in /proc/[0-9]*; do
        grep -qziE -- "$1" "$d/cmdline" 2>/dev/null || continue
        grep -qzxF "WINEPREFIX=$WINEPREFIX" "$d/environ" 2>/dev/null || continue
        echo "${d#/proc/}"
        return 0
    done
    return 1
}

# e2e_exe_pid: the pid of an imsrelay.exe of this prefix; none: status 1.
e2e_exe_pid() {
    e2e_prefix_pid 'imsrelay\.exe'
}

# e2e_service_exited [NAME]: the service is STOPPED and no imsrelay.exe of this prefix runs.
# STOPPED alone is not enough: the process reports it and then still has to exit, and on a
# busy machine it may still be there when the next command looks for "the" service process.
e2e_service_exited() {
    e2e_service_state STOPPED "${1:-MSExchangeIMC}" && ! e2e_exe_pid >/dev/null
}

# e2e_net_start [NAME]: net start. Wine's net.exe has exited without a word now and then on
# a loaded machine (as reg.exe and wineboot have): when it fails and the service is neither
# starting nor running, it is run again, up to three times; a last failure names what it
# said. Does not wait for the service.
e2e_net_start() {
    local name=${1:-MSExchangeIMC} out try
    for try in 1 2 3; do
        if out=$(e2e_wine net start "$name" 2>&1); then
            return 0
        fi
        e2e_log "net start $name failed (try $try): $(echo "$out" | tr -d '\r' | tr '\n' ' ')"
        if e2e_service_state RUNNING "$name" || e2e_service_state START_PENDING "$name"; then
            return 0
        fi
        [ $try -lt 3 ] || e2e_fail "net start $name failed three times: $(echo "$out" | tr -d '\r' | tr '\n' ' ')"
        sleep 1
    done
}

# e2e_start_service [NAME]: e2e_net_start, then waits for RUNNING.
e2e_start_service() {
    e2e_net_start "${1:-MSExchangeIMC}"
    e2e_wait 120 e2e_service_state RUNNING "${1:-MSExchangeIMC}"
}

# e2e_net_stop SECONDS [NAME]: net stop, then waits up to SECONDS for STOPPED. Wine's tools
# now and then exit 1 without a word on a loaded machine (see e2e_reg); a stop that never
# reached the service shows as RUNNING after 10 s (a stop that did shows STOP_PENDING), and is
# sent once more with sc. A failure names what net stop said and the state sc last saw.
e2e_net_stop() {
    local seconds=$1 name=${2:-MSExchangeIMC} out rc=0 resent=0
    out=$(e2e_wine net stop "$name" 2>&1) || rc=$?
    local start=$SECONDS deadline=$((SECONDS + seconds))
    while ! e2e_service_state STOPPED "$name"; do
        if [ $resent = 0 ] && [ $((SECONDS - start)) -ge 10 ] && e2e_service_state RUNNING "$name"; then
            e2e_log "net stop $name (exit $rc: $(echo "$out" | tr -d '\r' | tr '\n' ' ')) left it RUNNING; sc stop"
            e2e_wine sc stop "$name" >/dev/null 2>&1 || true
            resent=1
        fi
        if [ $SECONDS -ge $deadline ]; then
            e2e_fail "waited ${seconds}s for $name to stop; net stop exit $rc: $(echo "$out" | tr -d '\r' | tr '\n' ' '); sc query: $(e2e_wine sc query "$name" 2>&1 | tr -d '\r' | grep STATE)"
        fi
        sleep 0.2
    done
}

# e2e_stop_service [NAME]: net stop, then waits for e2e_service_exited.
e2e_stop_service() {
    e2e_net_stop 60 "${1:-MSExchangeIMC}"
    e2e_wait 60 e2e_service_exited "${1:-MSExchangeIMC}"
}

# e2e_reg_query KEY VALUE: prints the data of a value as `reg query` shows it.
e2e_reg_query() {
    e2e_wine reg query "$1" /v "$2" 2>/dev/null | tr -d '\r' | awk -v v="$2" '$1 == v { $1 = ""; $2 = ""; sub(/^ +/, ""); print }'
}

_e2e_cleanup() {
    local rc=$?
    if [ "${E2E_KEEP:-0}" != 1 ] && [ -n "${WINEPREFIX:-}" ]; then
        wineserver -k >/dev/null 2>&1 || true
        wineserver -w >/dev/null 2>&1 || true
        # A prefix is about 700 MB and the suite makes dozens: a test that passed gives its
        # prefix back (its event capture stays); one that failed keeps it for a look.
        if [ $rc -eq 0 ] && [ -n "${E2E_DIR:-}" ] && [ "$WINEPREFIX" = "$E2E_DIR/prefix" ]; then
            rm -rf "$E2E_DIR/prefix"
        fi
    fi
    exit $rc
}

# e2e_begin NAME: makes the fresh prefix out/wine/e2e-NAME and starts its wineserver (-p, so
# services outlive the commands that start them) and its services.exe with the event log
# channel captured in $E2E_EVENTS.
e2e_begin() {
    E2E_NAME=$1
    # One prefix per test and build tree (out/win/service/imsrelay.exe -> "win"), so two
    # build trees can run the suite at once.
    local tree=""
    if [ -n "${IMSRELAY_EXE:-}" ]; then
        tree="$(basename "$(dirname "$(dirname "$IMSRELAY_EXE")")")-"
    fi
    E2E_DIR="$IMSRELAY_SOURCE_DIR/out/wine/e2e-$tree$E2E_NAME"
    export WINEPREFIX="$E2E_DIR/prefix"
    source "$IMSRELAY_SOURCE_DIR/build/wine-env.sh"
    if [ -n "$WINEPREFIX" ] && [ -d "$E2E_DIR" ]; then
        wineserver -k >/dev/null 2>&1 || true
        wineserver -w >/dev/null 2>&1 || true
        rm -rf "$E2E_DIR"
    fi
    mkdir -p "$E2E_DIR"
    E2E_EVENTS="$E2E_DIR/events.log"
    : >"$E2E_EVENTS"
    trap _e2e_cleanup EXIT
    trap 'exit 130' INT TERM
    _e2e_template_copy "$WINEPREFIX"
    wineserver -p
    # The process that starts services.exe passes it its stderr and its WINEDEBUG; services
    # inherit both, so every ReportEventW of a service lands in the capture.
    # wineboot has exited 1 now and then on a loaded machine (a clean-clone run, with the
    # services it starts already up); booting a booted prefix again is harmless.
    # The capture lives only if the services.exe that runs is the one wineboot started here;
    # a clean-clone run under load once had none of its events captured (a services.exe
    # started later, by a command with WINEDEBUG=-all), so that is checked too, and the
    # prefix booted afresh when it is not so.
    local try
    for try in 1 2 3; do
        if WINEDEBUG="-all,err+eventlog,warn+eventlog,trace+eventlog" "$WINE" wineboot \
            >/dev/null 2>>"$E2E_EVENTS" && _e2e_wait_capture; then
            break
        fi
        [ "$try" -lt 3 ] || e2e_fail "wineboot failed three times in $WINEPREFIX: $(_e2e_services_debug)"
        e2e_log "wineboot failed (try $try: services.exe with WINEDEBUG=$(_e2e_services_debug)); once more"
        wineserver -k >/dev/null 2>&1 || true
        wineserver -w >/dev/null 2>&1 || true
        wineserver -p
        sleep 1
    done
    E2E_DRIVE_C="$WINEPREFIX/drive_c"
    e2e_log "prefix $WINEPREFIX ready; events in $E2E_EVENTS"
}

# What the template holds; a template marked otherwise is made again.
# _e2e_services_debug: the WINEDEBUG of this prefix's services.exe (empty: none runs).
_e2e_services_debug() {
    local pid
    pid=$(e2e_prefix_pid 'services\.exe') || return 0
    tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n 's/^WINEDEBUG=//p'
}

# _e2e_wait_capture: waits (30 s at most) for this prefix's services.exe, and succeeds when
# it has the event log channels on, i.e. when its stderr is the capture.
_e2e_wait_capture() {
    local deadline=$((SECONDS + 30)) debug
    while [ $SECONDS -lt $deadline ]; do
        debug=$(_e2e_services_debug)
        if [ -n "$debug" ]; then
            case $debug in
            *eventlog*) return 0 ;;
            *) return 1 ;;
            esac
        fi
        sleep 0.2
    done
    return 1
}

_E2E_TEMPLATE_VERSION="2: wineboot -i settled; ServicesPipeTimeout 120000"

# _e2e_template_copy DEST: copies the template prefix to DEST, making it first if need be.
# A prefix made once (wineboot -i takes seconds) and copied for each test; concurrent tests
# wait for the first to make it, and nobody copies it while it is being made. It is marked
# complete only once its first boot has settled (wineserver -w returned): system.reg alone
# appears early, and a run killed during the first boot would otherwise leave a half-made
# template for every later test to copy.
# ServicesPipeTimeout: Wine's services.exe gives a starting service 10 s (Wine reads the
# value as REG_SZ, in ms) to connect to it, then kills it and net start says "Service request
# timeout"; on a busy machine starting a Wine process can take longer. 2 minutes instead.
_e2e_template_copy() {
    local dest=$1 dir="$IMSRELAY_SOURCE_DIR/out/wine/e2e-template"
    mkdir -p "$dir"
    (
        flock 9
        if [ "$(cat "$dir/complete" 2>/dev/null)" != "$_E2E_TEMPLATE_VERSION" ]; then
            rm -rf "$dir/prefix" "$dir/complete"
            export WINEPREFIX="$dir/prefix"
            "$WINE" wineboot -i >/dev/null 2>&1 || true
            wineserver -w
            WINEDEBUG=-all "$WINE" reg add 'HKLM\System\CurrentControlSet\Control' \
                /v ServicesPipeTimeout /t REG_SZ /d 120000 /f >/dev/null 2>&1 || exit 1
            wineserver -w
            [ -f "$dir/prefix/system.reg" ] || exit 1
            echo "$_E2E_TEMPLATE_VERSION" >"$dir/complete"
        fi
        cp -a "$dir/prefix" "$dest"
    ) 9>"$dir.lock" || e2e_fail "could not make the template prefix $dir/prefix"
}

# e2e_install_exe: copies $IMSRELAY_EXE where an administrator would put it.
e2e_install_exe() {
    [ -f "${IMSRELAY_EXE:-}" ] || e2e_fail "IMSRELAY_EXE is not set to the built imsrelay.exe"
    mkdir -p "$E2E_DRIVE_C/Program Files/imsrelay"
    cp "$IMSRELAY_EXE" "$E2E_DRIVE_C/Program Files/imsrelay/imsrelay.exe"
    E2E_EXE='C:\Program Files\imsrelay\imsrelay.exe'
}

# e2e_rcpt PORT CLIENT_IP RECIPIENT: the reply code a client at CLIENT_IP (any 127.x.y.z)
# gets to RCPT TO:<RECIPIENT>, after EHLO and MAIL.
e2e_rcpt() {
    python3 "$IMSRELAY_SOURCE_DIR/tests/wine/service/smtp_probe.py" "$@"
}

# e2e_rcpt_is CODE PORT CLIENT_IP RECIPIENT: e2e_rcpt answers CODE; with e2e_wait, waits for
# a change of the rules to be in force for new sessions.
e2e_rcpt_is() {
    [ "$(e2e_rcpt "$2" "$3" "$4")" = "$1" ]
}

# e2e_reg_import LINE...: writes a .reg file with these lines under the version 5 header and
# imports it with regedit /s, so several values change in one step, as a .reg file pushed by
# Group Policy would change them. Lines are .reg syntax; see e2e_reg_multi for lists.
e2e_reg_import() {
    local file="$E2E_DIR/import-$RANDOM.reg"
    # UTF-16LE with a BOM, as regedit exports: only then is hex(7) data read as UTF-16.
    {
        printf '\xff\xfe'
        printf '%s\r\n' "Windows Registry Editor Version 5.00" "" "$@" "" | iconv -f UTF-8 -t UTF-16LE
    } >"$file"
    e2e_wine regedit /s "$(winepath_w "$file")"
}

# e2e_reg_multi LINE...: a REG_MULTI_SZ as .reg data: hex(7):... (UTF-16LE, terminated).
e2e_reg_multi() {
    python3 -c 'import sys; d = "".join(a + "\0" for a in sys.argv[1:]) + "\0"; print("hex(7):" + ",".join("%02x" % b for b in d.encode("utf-16-le")))' "$@"
}

# winepath_w UNIX_PATH: the same file as a Windows path (drive Z: is the Unix root).
winepath_w() {
    echo "Z:${1//\//\\}"
}
