#!/usr/bin/env bash
# `imsrelay.exe queue` against the running service: the listing shows what is deferred and
# why, `show` each recipient, `retry ID` sends one message now (not an hour later) while the
# other waits, `delete ID` removes a message with an event naming who asked; exit codes 0
# done, 1 no such message, 2 usage.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-queue-cli
trap dl_cleanup EXIT
dl_install
sink_port=$(e2e_free_port)
dl_set SmartHost REG_SZ "[127.0.0.1]:$sink_port" # nothing listens there yet
dl_set RetryIntervals REG_SZ '1h'
dl_start

# q ARGS...: the command's output (stdout and stderr); a failing command does not end the test
# here, the checks on its output say what was wrong.
q() { { e2e_wine "$E2E_EXE" queue "$@" 2>&1 || true; } | tr -d '\r'; }
q_rc() { set +e; e2e_wine "$E2E_EXE" queue "$@" >/dev/null 2>&1; local rc=$?; set -e; echo $rc; }

dl_send alice@example.com one@far.test "first-queued"
dl_send alice@example.com two@far.test,three@far.test "second-queued"
e2e_wait 60 dl_log_has '\tone@far.test\t.*\tdeferred\t'
e2e_wait 60 dl_log_has '\ttwo@far.test\t.*\tdeferred\t'
e2e_wait 60 dl_log_has '\tthree@far.test\t.*\tdeferred\t'
id1=$(dl_delivery_log | grep -P '\tone@far.test\t' | head -1 | cut -f2 || true)
id2=$(dl_delivery_log | grep -P '\ttwo@far.test\t' | head -1 | cut -f2 || true)
[ -n "$id1" ] && [ -n "$id2" ] || e2e_fail "message IDs in the delivery log: $(dl_delivery_log)"

e2e_log "the listing"
list=$(q)
echo "$list" >"$E2E_DIR/list.txt"
echo "$list" | grep -q "^2 messages queued$" || e2e_fail "two messages listed: $list"
echo "$list" | grep -F "$id1" | grep -q '<alice@example.com>' || e2e_fail "the sender: $list"
echo "$list" | grep -F "$id1" | grep -q '1 of 1 pending  1 attempts  next 20' || e2e_fail "pending, attempts, next: $list"
echo "$list" | grep -F "$id2" | grep -q '2 of 2 pending' || e2e_fail "both recipients of the second pending: $list"
echo "$list" | grep -F "$id1" | grep -q 'last: 4.4.1 connection failed' || e2e_fail "the last reply: $list"
show=$(q show "$id2")
echo "$show" | grep -q '^recipient 2: <three@far.test> deferred, 1 attempts' || e2e_fail "show: $show"
[ "$(q_rc show NO.SUCH.ID)" = 1 ] || e2e_fail "show of an unknown ID exits 1"
[ "$(q_rc frobnicate)" = 2 ] || e2e_fail "an unknown subcommand exits 2"
[ "$(q_rc show)" = 2 ] || e2e_fail "show without an ID exits 2"

e2e_log "retry one message now; the other keeps waiting for its hour"
dl_sink_start "$sink_port"
q retry "$id1" | grep -q 'the running service was told' || e2e_fail "retry reaches the service"
e2e_wait 60 dl_sink_has "Subject: first-queued"
e2e_wait 30 dl_log_has '\tone@far.test\t.*\tdelivered\t250'
[ "$(dl_queue_count)" -eq 1 ] || e2e_fail "the second message still waits"
dl_sink_has "Subject: second-queued" && e2e_fail "the second message was not retried"

e2e_log "delete"
# The command writes the event itself: Wine prints it on the command's own stderr.
WINEDEBUG=-all,warn+eventlog "$WINE" "$E2E_EXE" queue delete "$id2" >"$E2E_DIR/delete.out" \
    2>"$E2E_DIR/delete.err" || e2e_fail "delete exits 0: $(cat "$E2E_DIR/delete.out" "$E2E_DIR/delete.err")"
e2e_wait 30 dl_queue_empty
[ -z "$(find "$DL_MAIL/Queue" -type f)" ] || e2e_fail "its journal went too: $(find "$DL_MAIL/Queue" -type f)"
grep -q ":warn:eventlog:.*L\"$id2\"" "$E2E_DIR/delete.err" || e2e_fail "a warning event names the message"
grep -A3 ":warn:eventlog:.*L\"$id2\"" "$E2E_DIR/delete.err" | grep -q 'L"2"' ||
    e2e_fail "and its two recipients not delivered"
user=$(e2e_wine cmd /c echo %USERNAME% | tr -d '\r') || e2e_fail "cmd /c echo %USERNAME%"
grep -q ":warn:eventlog:.*$user" "$E2E_DIR/delete.err" || e2e_fail "and who asked ($user)"
[ "$(q_rc delete "$id2")" = 1 ] || e2e_fail "deleting it again exits 1"
[ "$(q_rc retry "$id2")" = 1 ] || e2e_fail "retrying it exits 1"
q retry --all | grep -q 'retry now requested for 0 messages' || e2e_fail "retry --all of an empty queue"
q | grep -q '^0 messages queued$' || e2e_fail "the listing is empty"
dl_sink_has "Subject: second-queued" && e2e_fail "the deleted message was never sent" || true

e2e_log "retry --all: every deferred message goes now, not an hour later"
dl_sink_stop
dl_send alice@example.com four@far.test "fourth-queued"
dl_send alice@example.com five@far.test "fifth-queued"
e2e_wait 60 dl_log_has '\tfour@far.test\t.*\tdeferred\t'
e2e_wait 60 dl_log_has '\tfive@far.test\t.*\tdeferred\t'
dl_sink_start "$sink_port"
q retry --all | grep -q 'retry now requested for 2 messages; the running service was told' ||
    e2e_fail "retry --all reaches the service"
e2e_wait 60 dl_sink_has "Subject: fourth-queued"
e2e_wait 60 dl_sink_has "Subject: fifth-queued"
e2e_wait 30 dl_queue_empty

dl_stop
e2e_log "retry --all while the service is stopped: written to the journals, sent at start"
dl_sink_stop
dl_start
dl_send alice@example.com six@far.test "sixth-queued"
e2e_wait 60 dl_log_has '\tsix@far.test\t.*\tdeferred\t'
dl_stop
q retry --all | grep -q 'retry now requested for 1 message; the service is not running' ||
    e2e_fail "retry --all with the service stopped"
dl_sink_start "$sink_port"
dl_start
e2e_wait 60 dl_sink_has "Subject: sixth-queued"
e2e_wait 30 dl_queue_empty

dl_stop
e2e_pass
