# Delivery rows (issue 10): both servers relay to the same smtp-sink, and the figure is counted
# at the sink. Sourced by run-smtp-bench (bash, set -euo pipefail) after postfix.sh and
# imsrelay.sh; uses its helpers (now, elapsed, say, row, result, fail_note, wait_for,
# pids_gone, pf_drained, ims_check_alive) and its variables (work, pf_port, ims_port, RUNS).
#
#   delivery_setup                     picks the sink's port (SINK_PORT)
#   delivery_to_sink / delivery_to_nowhere
#                                      both servers relay to the sink / back to the bench's
#                                      usual end (Postfix discards, imsrelay keeps it queued)
#   measure_delivered ID LABEL SESSIONS MESSAGES SIZE
#                                      RUNS pairs: smtp-source into the server, time from the
#                                      first connection until the sink holds every message
#   measure_drain ID LABEL MESSAGES    DRAIN_RUNS pairs: a backlog built with the sink down,
#                                      then the time from the flush command until the sink
#                                      holds every message
#
# The sink: Postfix's smtp-sink, one process on its own loopback port, writing each message
# it accepts to a file of its own (-d) in a folder per run; a run counts the files. It is
# started for each run and stopped after it, so a folder only ever holds that run's mail,
# and when it does not run its port is closed: a relay to it defers (the drain's backlog).

# Both servers relay with their shipped delivery settings; only the destination is set:
# imsrelay SmartHost [127.0.0.1]:SINK_PORT (MaxConnectionsPerDestination 10 as shipped),
# Postfix relayhost = [127.0.0.1]:SINK_PORT (default_destination_concurrency_limit 20 and
# connection caching on demand, as shipped).
DELIVERY_TIMEOUT=${BENCH_DELIVERY_TIMEOUT:-900}

delivery_setup() {
    SINK_PORT=$(free_port)
    SINK_PID=
}

# sink_start DIR: smtp-sink on 127.0.0.1:SINK_PORT writing one file per message into DIR.
sink_start() {
    local dir=$1
    mkdir -p "$dir"
    chmod 777 "$dir" # the sink runs as nobody (it refuses to run as root without -u)
    /usr/sbin/smtp-sink -u nobody -d "$dir/%H%M%S." "127.0.0.1:$SINK_PORT" 1024 \
        >>"$work/logs/smtp-sink.log" 2>&1 &
    SINK_PID=$!
    echo "$SINK_PID" >"$work/sink.pid"
    python3 "$BENCH_LIB/wait_until.py" port "$SINK_PORT" 30 >/dev/null || {
        echo "smtp-sink did not open 127.0.0.1:$SINK_PORT" >&2
        return 1
    }
}

sink_stop() {
    if [ -n "${SINK_PID:-}" ]; then
        kill "$SINK_PID" 2>/dev/null || true
        wait "$SINK_PID" 2>/dev/null || true
        SINK_PID=
        rm -f "$work/sink.pid"
    fi
}

# For the bench's exit trap: a sink started in a subshell (each run is one) that was cut short.
sink_cleanup() {
    if [ -f "$work/sink.pid" ]; then
        kill "$(cat "$work/sink.pid")" 2>/dev/null || true
        rm -f "$work/sink.pid"
    fi
}

sink_count() {
    find "$1" -maxdepth 1 -type f 2>/dev/null | wc -l
}

ims_queue_empty() {
    [ "$(ims_queue_count)" -eq 0 ]
}

# ims_restart_with SMARTHOST: imsrelay stopped, its queue emptied, SmartHost set, started: a
# run starts from an empty queue whatever an earlier row left in it (a message of an earlier
# row, deferred to a closed port, must not reach the sink in the middle of a run).
ims_restart_with() {
    ims_stop
    ims_queue_clear
    ims_reg_add SmartHost REG_SZ "$1"
    ims_start >/dev/null
}

# pf_relay_to ALLOW RELAYHOST: the policy of pf_policy, and mail relayed to RELAYHOST by
# Postfix's own transports (default_transport smtp, relay_transport relay); returns once
# every process of the old configuration (smtpd, qmgr, trivial-rewrite...) has exited.
pf_relay_to() {
    local allow=$1 relayhost=$2 master old
    master=$(tr -d ' ' <"$PF_DIR/queue/pid/master.pid")
    old=$(pgrep -P "$master" || true)
    postfix_configure "$PF_DIR" "$pf_port" "$allow"
    postconf -c "$PF_DIR/etc" -X default_transport relay_transport
    postconf -c "$PF_DIR/etc" -e "relayhost = $relayhost"
    postfix_reload
    # shellcheck disable=SC2086
    wait_for 60 pids_gone $old || fail_note "Postfix processes of the old configuration outlived the reload by 60 s"
}

delivery_to_sink() {
    pf_relay_to "127.0.0.1/32 $SPREAD_NET.0/24" "[127.0.0.1]:$SINK_PORT"
    if [ $ims_ok = 1 ]; then
        ims_restart_with "[127.0.0.1]:$SINK_PORT"
    fi
}

delivery_to_nowhere() {
    sink_stop
    wait_for 120 pf_drained || fail_note "Postfix still holds mail for the sink"
    pf_policy "127.0.0.1/32 $SPREAD_NET.0/24"
    if [ $ims_ok = 1 ]; then
        ims_restart_with '[127.0.0.1]:1'
    fi
}

# Postfix's deferred queue holds COUNT messages and nothing is in flight.
pf_deferred_all() {
    local deferred busy
    deferred=$(find "$PF_DIR/queue/deferred" -type f 2>/dev/null | wc -l)
    busy=$(find "$PF_DIR/queue/incoming" "$PF_DIR/queue/active" "$PF_DIR/queue/maildrop" \
        -type f 2>/dev/null | wc -l)
    [ "$deferred" -ge "$1" ] && [ "$busy" -eq 0 ]
}

# imsrelay's delivery log has COUNT deferrals to RCPT (every message tried once, and the
# destination down).
ims_deferred_all() {
    local n
    n=$(cat "$IMS_MAILROOT"/Logs/delivery-*.log 2>/dev/null |
        awk -F'\t' -v r="$1" '$3 == r && $5 == "deferred"' | wc -l)
    [ "$n" -ge "$2" ]
}

# source_into SERVER SESSIONS COUNT SIZE RCPT ERR: smtp-source into the server; 1 unless every
# message got its 250.
source_into() {
    local port=$pf_port rc=0
    [ "$1" = imsrelay ] && port=$ims_port
    (cd "$work" && smtp-source -s "$2" -m "$3" -l "$4" -f sender@client.bench.test -t "$5" \
        -M client.bench.test -S bench "127.0.0.1:$port") 2>"$6" || rc=$?
    if [ $rc -ne 0 ] || [ -s "$6" ]; then
        echo "smtp-source exit $rc: $(head -n 2 "$6" | tr '\n' ' ')" >&2
        return 1
    fi
}

server_drained() {
    if [ "$1" = postfix ]; then
        pf_drained
    else
        ims_queue_empty
    fi
}

# sink_finish SERVER DIR COUNT: after the sink has COUNT files, waits for the server's queue to
# empty, stops the sink, checks that it got exactly COUNT (none twice), and drops the files.
sink_finish() {
    local server=$1 dir=$2 count=$3 got
    wait_for 120 server_drained "$server" || echo "$server: queue not empty 120 s after the sink had all" >&2
    sink_stop
    got=$(sink_count "$dir")
    rm -rf "$dir"
    if [ "$got" -ne "$count" ]; then
        echo "the sink got $got messages, not $count" >&2
        return 1
    fi
}

# load_delivered SERVER SESSIONS COUNT SIZE TAG: prints messages delivered per second.
load_delivered() {
    local server=$1 sessions=$2 count=$3 size=$4 tag=$5
    local dir="$work/sink/$tag-$server" err="$work/logs/$tag-$server.err" t0 t1
    wait_for 120 server_drained "$server" || { echo "$server: queue not empty before the run" >&2; return 1; }
    sink_start "$dir" || return 1
    t0=$(now)
    if ! source_into "$server" "$sessions" "$count" "$size" "$tag.$(date +%s%N)@far.test" "$err"; then
        sink_stop
        return 1
    fi
    if ! t1=$(python3 "$BENCH_LIB/wait_until.py" files "$dir" "$count" "$DELIVERY_TIMEOUT"); then
        echo "the sink had $(sink_count "$dir") of $count after $DELIVERY_TIMEOUT s" >&2
        sink_stop
        return 1
    fi
    sink_finish "$server" "$dir" "$count" || return 1
    awk -v n="$count" -v t="$(elapsed "$t0" "$t1")" 'BEGIN { printf "%.1f", n / t }'
}

# drain SERVER COUNT TAG: builds a backlog of COUNT 1 KB messages with the sink down, then
# prints the seconds from the flush command (imsrelay.exe queue retry --all, postqueue -f)
# until the sink holds all of them.
drain() {
    local server=$1 count=$2 tag=$3
    local dir="$work/sink/$tag-$server" err="$work/logs/$tag-$server.err" t0 t1 t_built
    local rcpt="$tag.$(date +%s%N)@far.test"
    wait_for 120 server_drained "$server" || { echo "$server: queue not empty before the backlog" >&2; return 1; }
    sink_stop
    t0=$(now)
    source_into "$server" 20 "$count" 1024 "$rcpt" "$err" || return 1
    if [ "$server" = postfix ]; then
        wait_for "$DELIVERY_TIMEOUT" pf_deferred_all "$count" ||
            { echo "Postfix did not defer all $count" >&2; return 1; }
    else
        wait_for "$DELIVERY_TIMEOUT" ims_deferred_all "$rcpt" "$count" ||
            { echo "imsrelay did not defer all $count" >&2; return 1; }
    fi
    t_built=$(now)
    say "drain, $server: backlog of $count built in $(elapsed "$t0" "$t_built") s (accepted, tried once, deferred)"
    sink_start "$dir" || return 1
    local t_flushed
    t0=$(now)
    if [ "$server" = postfix ]; then
        postqueue -c "$PF_DIR/etc" -f >>"$work/logs/$tag-$server.flush" 2>&1 ||
            { echo "postqueue -f failed" >&2; sink_stop; return 1; }
    else
        e2e_wine "$E2E_EXE" queue retry --all >>"$work/logs/$tag-$server.flush" 2>&1 ||
            { echo "imsrelay.exe queue retry --all failed" >&2; sink_stop; return 1; }
    fi
    t_flushed=$(now)
    local at_flush
    at_flush=$(sink_count "$dir")
    if ! t1=$(python3 "$BENCH_LIB/wait_until.py" files "$dir" "$count" "$DELIVERY_TIMEOUT"); then
        echo "the sink had $(sink_count "$dir") of $count after $DELIVERY_TIMEOUT s" >&2
        sink_stop
        return 1
    fi
    say "drain, $server: the flush command took $(elapsed "$t0" "$t_flushed") s, the sink had $at_flush then"
    sink_finish "$server" "$dir" "$count" || return 1
    elapsed "$t0" "$t1"
}

# pair ID RUN WHAT ARGS...: WHAT (load_delivered or drain) for both servers back to back,
# alternating which goes first; records each figure.
pair() {
    local id=$1 run=$2 what=$3 server v
    shift 3
    local order=(postfix imsrelay)
    [ $((run % 2)) -eq 0 ] && order=(imsrelay postfix)
    for server in "${order[@]}"; do
        if [ "$server" = imsrelay ] && [ $ims_ok = 0 ]; then
            result "$id" "$server" "$run" -
            continue
        fi
        if v=$("$what" "$server" "$@" "$id-$run"); then
            say "$id, run $run, $server: $v"
            result "$id" "$server" "$run" "$v"
        else
            fail_note "$id, run $run, $server"
            result "$id" "$server" "$run" -
            sink_stop
            ims_check_alive
        fi
    done
}

measure_delivered() {
    local id=$1 label=$2 run
    shift 2
    row "$id" "$label" "msg/s" higher
    for run in $(seq "$DELIVERY_RUNS"); do
        pair "$id" "$run" load_delivered "$@"
    done
}

measure_drain() {
    local id=$1 label=$2 count=$3 run
    row "$id" "$label" s lower
    for run in $(seq "$DRAIN_RUNS"); do
        pair "$id" "$run" drain "$count"
    done
}
