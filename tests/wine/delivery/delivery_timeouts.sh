#!/usr/bin/env bash
# Delivery faults that take time: a smart host that accepts the connection and never says a
# word is given up after the documented 60 s greeting timeout (deferred, 4.4.2 "timed out
# (stage: greeting)"), while the service goes on taking mail and answering `queue`; with
# DelayNotification 1m a recipient that keeps getting 4xx gives its sender exactly one delay
# DSN (Action: delayed, Status 4.x.x), never a second one however often it is retried.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-timeouts
trap dl_cleanup EXIT
dl_install
got="$E2E_DIR/got"
mkdir -p "$got"
silent_port=$(e2e_free_port)
port=$(e2e_free_port)
dl_fault_server "$silent_port" "$got" --silent
dl_fault_server "$port" "$got"
rm -f "$got/silent-$silent_port.log" # the probe's connection
dl_set SmartHost REG_SZ "[127.0.0.1]:$silent_port"
dl_set RetryIntervals REG_SZ '3s'
dl_set DelayNotification REG_SZ '1m'
dl_start

got_has() { grep -l -F -- "$1" "$got"/msg-* >/dev/null 2>&1; }
silent_connected() { [ -s "$got/silent-$silent_port.log" ]; }

e2e_log "a smart host that never answers: deferred after the greeting timeout"
start=$(date +%s)
dl_send alice@example.com silent@far.test "silent-message"
e2e_wait 60 silent_connected
e2e_log "while the delivery waits for a greeting, the service takes mail and answers queue"
dl_send someone@far.test bob@example.com "local-while-waiting"
e2e_wait 30 dl_drop_has "Subject: local-while-waiting"
list=$({ e2e_wine "$E2E_EXE" queue 2>&1 || true; } | tr -d '\r')
echo "$list" | grep -q '^1 message queued$' || e2e_fail "queue answers during the wait: $list"
if [ $(($(date +%s) - start)) -lt 55 ]; then
    dl_log_has '\tsilent@far.test\t' && e2e_fail "no outcome before the greeting timeout: $(dl_delivery_log)"
fi
e2e_wait 150 dl_log_has '\tsilent@far.test\t127.0.0.1 \[127.0.0.1:'"$silent_port"'\]\tdeferred\t4.4.2 timed out \(stage: greeting\)'
elapsed=$(($(date +%s) - start))
e2e_log "measured: deferred ${elapsed}s after the message was accepted (documented: 60 s)"
[ "$elapsed" -ge 58 ] || e2e_fail "the greeting timeout is 60 s, not ${elapsed}s"

e2e_log "the smart host changed: the deferred message goes to the answering server"
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$port"
e2e_wait 120 got_has "RCPT <silent@far.test>"
e2e_wait 30 dl_queue_empty

e2e_log "DelayNotification 1m: one delay DSN, not a second one"
delay_dsns() {
    grep -l -F "Final-Recipient: rfc822; tempfail-always@far.test" "$DL_MAIL"/Drop/*.eml 2>/dev/null |
        xargs -r grep -l -F "Action: delayed" | wc -l
}
deferrals() { dl_delivery_log | grep -cP '\ttempfail-always@far.test\t.*\tdeferred\t451 4.7.1' || true; }
dl_send alice@example.com tempfail-always@far.test "delayed-message"
e2e_wait 30 dl_log_has '\ttempfail-always@far.test\t.*\tdeferred\t451 4.7.1'
[ "$(delay_dsns)" -eq 0 ] || e2e_fail "no delay DSN before DelayNotification has passed"
has_delay_dsn() { [ "$(delay_dsns)" -ge 1 ]; }
e2e_wait 150 has_delay_dsn
dsn=$(grep -l -F "Final-Recipient: rfc822; tempfail-always@far.test" "$DL_MAIL"/Drop/*.eml | head -1)
grep -q '^Action: delayed' "$dsn" || e2e_fail "Action: delayed: $(cat "$dsn")"
grep -q '^Status: 4\.7\.1' "$dsn" || e2e_fail "Status 4.7.1: $(cat "$dsn")"
grep -q '^Diagnostic-Code: smtp; 451 4.7.1 try again later' "$dsn" || e2e_fail "Diagnostic-Code"
grep -q '^X-Receiver: <alice@example.com>' "$dsn" || e2e_fail "to the sender: $(head -5 "$dsn")"
seen=$(deferrals)
more_deferrals() { [ "$(deferrals)" -ge $((seen + 4)) ]; }
e2e_wait 120 more_deferrals
[ "$(delay_dsns)" -eq 1 ] || e2e_fail "exactly one delay DSN after $(deferrals) deferrals, not $(delay_dsns)"
e2e_log "measured: $(deferrals) deferrals, $(delay_dsns) delay DSN"

dl_stop
e2e_pass
