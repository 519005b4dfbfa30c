#!/usr/bin/env bash
# make run: the service as an administrator would run it, under Wine, in the prefix
# out/wine/run (kept between runs, so relay lists set there stay): installs it with
# `imsrelay.exe install`, listens on port 2525, starts it with `net start`, shows the
# Application log live, and stops the service on Ctrl+C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
exe="${IMSRELAY_EXE:-$root/dist/imsrelay.exe}"
port="${IMSRELAY_RUN_PORT:-2525}"
[ -f "$exe" ] || { echo "make-run: $exe is missing; run 'make run', which builds it" >&2; exit 1; }

export WINEPREFIX="$root/out/wine/run"
source "$root/build/wine-env.sh"
events="$root/out/wine/run-events.log"
params='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
quiet() { WINEDEBUG=-all "$WINE" "$@"; }
state() { quiet sc query MSExchangeIMC 2>/dev/null | tr -d '\r' | grep -Eq "STATE +: +[0-9]+ +$1"; }

stop() {
    trap - INT TERM EXIT
    echo
    echo "make run: stopping MSExchangeIMC..."
    quiet net stop MSExchangeIMC >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do state STOPPED && break; sleep 0.2; done
    wineserver -k >/dev/null 2>&1 || true
    echo "make run: stopped. The prefix stays in $WINEPREFIX; the log in $events."
}

# A wineserver of an earlier run, if any, goes first: the one started here must also start
# services.exe, whose standard error is the event log capture.
wineserver -k >/dev/null 2>&1 || true
wineserver -w >/dev/null 2>&1 || true
mkdir -p "$WINEPREFIX"
: >"$events"
trap stop INT TERM EXIT
echo "make run: preparing the Wine prefix $WINEPREFIX ..."
if [ ! -f "$WINEPREFIX/system.reg" ]; then
    # Made first on its own: the services.exe of a prefix's very first boot runs without
    # the environment the boot is creating (no %ProgramData%), and services inherit it.
    "$WINE" wineboot -i >/dev/null 2>&1 || true
    wineserver -w
fi
wineserver -p || true
WINEDEBUG="-all,err+eventlog,warn+eventlog,trace+eventlog" "$WINE" wineboot >/dev/null 2>>"$events" || true

install_dir="$WINEPREFIX/drive_c/Program Files/imsrelay"
mkdir -p "$install_dir"
cp "$exe" "$install_dir/imsrelay.exe"
quiet "C:\\Program Files\\imsrelay\\imsrelay.exe" install
quiet reg add "$params" /v ListenPort /t REG_DWORD /d "$port" /f >/dev/null
# A prefix kept from an earlier run starts the (automatic) service with the prefix, before
# the port is set: restart it so that it listens where this says.
if state RUNNING || state START_PENDING; then
    quiet net stop MSExchangeIMC >/dev/null 2>&1 || true
    for _ in $(seq 1 150); do state STOPPED && break; sleep 0.2; done
fi
quiet net start MSExchangeIMC >/dev/null 2>&1 || true
for _ in $(seq 1 150); do
    state RUNNING && break
    state STOPPED && break
    sleep 0.2
done
if ! state RUNNING; then
    echo "make run: the service did not start; its events:" >&2
    cat "$events" >&2
    quiet sc query MSExchangeIMC >&2 || true
    exit 1
fi

cat <<INFO

imsrelay runs as the service MSExchangeIMC under Wine, listening on port $port.
  Send mail:       swaks --server 127.0.0.1:$port --to someone@example.com
                   (only 127.0.0.1 may relay: RelayFlags=2, RelayAllowList=127.0.0.1)
  Change the relay lists (the running service reloads them at once):
    export WINEPREFIX=$WINEPREFIX
    wine reg add '$params' /v RelayFlags /t REG_DWORD /d 3 /f
    wine reg add '$params' /v RelayAllowList /t REG_MULTI_SZ /d '127.0.0.0;255.0.0.0' /f
    wine reg add '$params' /v RelayDenyList /t REG_MULTI_SZ /d '127.0.0.5\\0127.0.0.6' /f
    wine reg add '$params' /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
  Check them:      wine 'C:\\Program Files\\imsrelay\\imsrelay.exe' check
  Deliver relayed mail through a smart host (default: MX lookup of each domain), e.g.
  Postfix's sink: smtp-sink 127.0.0.1:2526 100 &, then
    wine reg add '$params' /v SmartHost /t REG_SZ /d '[127.0.0.1]:2526' /f
  See the queue:   wine 'C:\\Program Files\\imsrelay\\imsrelay.exe' queue

Application log (Wine prints each event's insertion strings, one per line); Ctrl+C stops:
INFO
# Wine's eventlog channel, made readable: "err:" error, "warn:" warning, "trace:" information.
# In the foreground: Ctrl+C ends it, then the trap stops the service.
tail -n +1 -f "$events" | sed -u -E \
    -e '/ServiceMain starting/d' \
    -e 's/^[0-9a-f]+:err:eventlog:ReportEventW L"(.*)"$/  error    \1/' \
    -e 's/^[0-9a-f]+:warn:eventlog:ReportEventW L"(.*)"$/  warning  \1/' \
    -e 's/^[0-9a-f]+:trace:eventlog:ReportEventW L"(.*)"$/  info     \1/' || true
