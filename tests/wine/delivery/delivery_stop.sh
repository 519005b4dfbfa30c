#!/usr/bin/env bash
# net stop during a delivery: a smart host that sits on the message (smtp-sink -w 60 waits a
# minute before its 354) does not hold the stop up: the service is STOPPED within its wait
# hint, the recipient that never got its 250 stays queued (not deferred for an interval, not
# failed), and after the next start it is delivered.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-stop
trap dl_cleanup EXIT
dl_install
sink_port=$(e2e_free_port)
dl_set SmartHost REG_SZ "[127.0.0.1]:$sink_port"
dl_set RetryIntervals REG_SZ '1h'
/usr/sbin/smtp-sink -u nobody -w 60 -d "$DL_SINK/%H%M%S." "127.0.0.1:$sink_port" 100 &
DL_SINK_PID=$!
e2e_wait 10 e2e_port_open "$sink_port"
dl_start

dl_send alice@example.com slow@far.test "stopped-message"
connected() { ss -tn state established "( dport = :$sink_port )" | grep -q "$sink_port"; }
e2e_wait 30 connected
start=$SECONDS
e2e_net_stop 30
took=$((SECONDS - start))
e2e_log "stopped in ${took}s with a delivery in progress"
[ "$took" -le 20 ] || e2e_fail "the stop took ${took}s, more than the wait hint allows"
[ "$(dl_queue_count)" -eq 1 ] || e2e_fail "the message is still queued"
dl_log_has '\tslow@far.test\t' && e2e_fail "an attempt cut by the stop is not recorded: $(dl_delivery_log)"

dl_sink_stop
dl_sink_start "$sink_port"
dl_start
e2e_wait 60 dl_sink_has "Subject: stopped-message"
e2e_wait 30 dl_queue_empty
dl_stop
e2e_pass
