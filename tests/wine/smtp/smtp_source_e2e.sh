#!/usr/bin/env bash
# Postfix's smtp-source against the service as installed, with only the port and the allow
# list set (issue 12): 20 and then 200 concurrent sessions from one address (127.0.0.1, which
# reconnects as soon as each session's QUIT is answered) get every message accepted, and the
# Queue folder holds one file per message. Every wait is on a condition, bounded.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
SMTP_SOURCE=/usr/sbin/smtp-source
[ -x "$SMTP_SOURCE" ] || e2e_fail "no $SMTP_SOURCE (Debian's postfix package; build/setup.sh installs it)"
e2e_begin smtp-source
e2e_install_exe
e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
port=$(e2e_free_port)
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 2 /f
e2e_reg add "$K" /v RelayAllowList /t REG_MULTI_SZ /d '127.0.0.1' /f
# Accepted mail is counted in Queue: it goes to a smart host nobody listens on, so it stays
# queued (deferred) instead of being delivered or bounced while the test counts it.
e2e_reg add "$K" /v SmartHost /t REG_SZ /d '[127.0.0.1]:1' /f
e2e_start_service
e2e_wait 30 e2e_port_open "$port"

# MailRoot as shipped, %ProgramData%\imsrelay: under Wine 8 a service sees %ProgramData% as
# C:\users\Public, not as cmd does; the folder the service made is the one.
queue=$(find "$E2E_DRIVE_C" -maxdepth 4 -type d -path '*/imsrelay/Queue' | head -n 2)
[ "$(echo "$queue" | wc -l)" -eq 1 ] || e2e_fail "not one Queue folder under drive_c: $queue"
[ -d "$queue" ] || e2e_fail "no Queue folder at $queue"
queued() { find "$queue" -type f -name '*.eml' | wc -l; }

total=0
for load in "20 400" "200 1000"; do
    read -r sessions messages <<<"$load"
    before=$(queued)
    err="$E2E_DIR/smtp-source-$sessions.err"
    rc=0
    timeout 300 "$SMTP_SOURCE" -s "$sessions" -m "$messages" -l 1024 -f sender@client.test \
        -t rcpt@far.test -M client.test "127.0.0.1:$port" 2>"$err" || rc=$?
    [ $rc -eq 0 ] || e2e_fail "smtp-source -s $sessions exited $rc: $(head -c 400 "$err")"
    [ ! -s "$err" ] || e2e_fail "smtp-source -s $sessions complained: $(head -c 400 "$err")"
    got=$(($(queued) - before))
    # Every 250 comes after the file is flushed: no wait is needed, none is taken.
    [ "$got" -eq "$messages" ] ||
        e2e_fail "smtp-source -s $sessions: $got files in Queue for $messages messages accepted"
    total=$((total + messages))
    e2e_log "smtp-source -s $sessions -m $messages: all accepted, $got files in Queue"
done
[ "$(queued)" -eq "$total" ] || e2e_fail "Queue holds $(queued) files, $total expected"
# Nobody was refused: no connection-refused event was written.
[ "$(e2e_events_count 'MaxConnections')" -eq 0 ] || e2e_fail "a connection was refused"

e2e_net_stop 60
e2e_pass
