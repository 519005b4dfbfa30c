# Helpers for the delivery tests (source after tests/wine/lib.sh).
#
#   dl_install                     install, listen on $DL_PORT, MailRoot C:\mail, LocalDomains
#                                  example.com, SmtpHostName relay.example.com, only
#                                  127.0.0.1 may relay (install's default)
#   dl_set NAME TYPE DATA          reg add to Parameters
#   dl_start / dl_stop             net start / net stop, waiting for the state
#   dl_send FROM TO[,TO...] SUBJECT [BODY_FILE]
#                                  one message through the service (smtplib), fails the test
#                                  unless it is accepted
#   dl_queue_count                 .eml files in Queue (and its subfolders Queue\<XX>\)
#   dl_sink_start PORT             smtp-sink on 127.0.0.1:PORT writing to $DL_SINK/
#   dl_sink_has TEXT [COUNT]       COUNT (default 1) sink files contain TEXT
#   dl_fault_server PORT GOT [ARGS]
#                                  fault_server.py on 127.0.0.1:PORT (stopped at exit)
DL_K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
DL_PY=/usr/bin/python3

dl_set() {
    e2e_reg add "$DL_K" /v "$1" /t "$2" /d "$3" /f
}

dl_install() {
    e2e_install_exe
    e2e_wine "$E2E_EXE" install >/dev/null || e2e_fail "install failed"
    DL_PORT=$(e2e_free_port)
    dl_set ListenPort REG_DWORD "$DL_PORT"
    dl_set ListenAddresses REG_MULTI_SZ '127.0.0.1'
    dl_set MailRoot REG_SZ 'C:\mail'
    dl_set LocalDomains REG_MULTI_SZ 'example.com'
    dl_set SmtpHostName REG_SZ 'relay.example.com'
    DL_MAIL="$E2E_DRIVE_C/mail"
    DL_SINK="$E2E_DIR/sink"
    mkdir -p "$DL_SINK"
    chmod 777 "$DL_SINK"
}

dl_start() {
    e2e_start_service
    e2e_wait 30 e2e_port_open "$DL_PORT"
}

dl_stop() {
    e2e_net_stop 40
}

dl_send() {
    "$DL_PY" - "$DL_PORT" "$@" <<'PY' || e2e_fail "the service did not accept the message ($*)"
import smtplib, sys
port, sender, rcpts, subject = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4]
body = open(sys.argv[5], "rb").read() if len(sys.argv) > 5 else b"the body\r\n"
msg = b"From: <" + sender.encode() + b">\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body
with smtplib.SMTP("127.0.0.1", int(port), timeout=30) as s:
    refused = s.sendmail(sender, rcpts, msg)
    if refused:
        sys.exit("refused: %r" % refused)
PY
}

dl_queue_count() {
    find "$DL_MAIL/Queue" -maxdepth 2 -name '*.eml' 2>/dev/null | wc -l
}

dl_queue_empty() {
    [ "$(dl_queue_count)" -eq 0 ]
}

dl_sink_start() {
    /usr/sbin/smtp-sink -u nobody -d "$DL_SINK/%H%M%S." "127.0.0.1:$1" 100 &
    DL_SINK_PID=$!
    e2e_wait 10 e2e_port_open "$1"
}

dl_sink_stop() {
    if [ -n "${DL_SINK_PID:-}" ]; then
        kill "$DL_SINK_PID" 2>/dev/null || true
        wait "$DL_SINK_PID" 2>/dev/null || true
        DL_SINK_PID=
    fi
}

# dl_fault_server PORT GOT [ARGS...]: tests/wine/delivery/fault_server.py (a scriptable SMTP
# server; ARGS such as --silent or --size N) on 127.0.0.1:PORT, logging into folder GOT;
# returns once it listens, and dl_cleanup stops it.
dl_fault_server() {
    "$DL_PY" "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/fault_server.py" 127.0.0.1 "$@" &
    DL_FAULT_PIDS="${DL_FAULT_PIDS:-} $!"
    e2e_wait 10 e2e_port_open "$1"
}

dl_sink_has() {
    local n
    n=$(grep -l -F -- "$1" "$DL_SINK"/* 2>/dev/null | wc -l)
    [ "$n" -ge "${2:-1}" ]
}

# The EXIT trap of a delivery test: stops the servers it started, then lib.sh's cleanup
# with the test's own exit code.
dl_cleanup() {
    local rc=$?
    set +e # or the `(exit $rc)` below would end the trap before lib.sh's cleanup
    dl_sink_stop
    local p
    for p in ${DL_FAULT_PIDS:-}; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    if declare -F dl_test_cleanup >/dev/null; then
        dl_test_cleanup
    fi
    (exit $rc)
    _e2e_cleanup
}

# dl_started_with COUNT: the queue manager's started event (insertion strings: count, the
# Queue folder, routing) says COUNT messages were queued.
dl_started_with() {
    grep -B1 -F 'C:\\mail\\Queue' "$E2E_EVENTS" | grep -q -F "L\"$1\""
}

dl_delivery_log() {
    cat "$DL_MAIL"/Logs/delivery-*.log 2>/dev/null || true
}

# dl_loopback PREFIX: a random 127.PREFIX.x.y address (tests running at once never meet).
dl_loopback() {
    echo "127.$1.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1))"
}

# dl_dns_start ADDRESS ARGS...: dnsmasq answering for *.test on ADDRESS:53 (DnsQuery_W speaks
# only to port 53), authoritative for nothing else; ARGS add records.
dl_dns_start() {
    local address=$1
    shift
    DL_DNS_LOG="$E2E_DIR/dnsmasq.log"
    /usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
        --listen-address="$address" --port=53 --local=/test/ --pid-file= --log-queries \
        --log-facility=- "$@" >"$DL_DNS_LOG" 2>&1 &
    DL_DNS_PID=$!
    e2e_wait 10 grep -q 'started' "$DL_DNS_LOG"
}

dl_dns_stop() {
    if [ -n "${DL_DNS_PID:-}" ]; then
        kill "$DL_DNS_PID" 2>/dev/null || true
        wait "$DL_DNS_PID" 2>/dev/null || true
        DL_DNS_PID=
    fi
}

# dl_sink_start_at ADDRESS:PORT: smtp-sink there.
dl_sink_start_at() {
    /usr/sbin/smtp-sink -u nobody -d "$DL_SINK/%H%M%S." "$1" 100 &
    DL_SINK_PID=$!
    e2e_wait 10 e2e_port_open "${1##*:}" "${1%:*}"
}

# dl_drop_has TEXT: a file in Drop contains TEXT.
dl_drop_has() {
    grep -l -F -- "$1" "$DL_MAIL"/Drop/*.eml >/dev/null 2>&1
}

# dl_log_has REGEX: the delivery log has a line matching the Perl regex.
dl_log_has() {
    dl_delivery_log | grep -qP -- "$1"
}

# dl_set_live NAME TYPE DATA: changes a value of the running service and waits until the
# service has reloaded (its reload event), so the next attempt uses the new value.
dl_set_live() {
    local before
    before=$(e2e_events_count 'the registry changed')
    dl_set "$@"
    e2e_wait 30 dl_events_more 'the registry changed' "$before"
}

dl_events_more() {
    [ "$(e2e_events_count "$1")" -gt "$2" ]
}
