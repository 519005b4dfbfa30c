#!/usr/bin/env bash
# Delivery against a scriptable server (fault_server.py): an unreachable smart host is
# skipped for the next one; a per-recipient 4xx is retried after RetryIntervals and then
# delivered, the other recipients of the message once only; a 5xx gives one DSN to the
# (local) sender, in Drop, with its Status and Diagnostic-Code; a connection dropped in
# DATA defers and the retry delivers; a message over the server's SIZE fails with 5.3.4
# without being sent; the DSN of a DSN (a DSN nobody takes) goes to Badmail with its reason.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-faults
trap dl_cleanup EXIT
dl_install
got="$E2E_DIR/got"
mkdir -p "$got"
dead_port=$(e2e_free_port)
port=$(e2e_free_port)
small_port=$(e2e_free_port)
dl_fault_server "$port" "$got"
dl_fault_server "$small_port" "$got" --size 2000
dl_set SmartHost REG_SZ "[127.0.0.1]:$dead_port, [127.0.0.1]:$port"
dl_set RetryIntervals REG_SZ '2s'
dl_start

got_has() { grep -l -F -- "$1" "$got"/msg-* >/dev/null 2>&1; }
got_count() { grep -l -F -- "$1" "$got"/msg-* 2>/dev/null | wc -l; }

e2e_log "an unreachable smart host is skipped; a 4xx is retried, the rest sent once"
dl_send alice@example.com ok@far.test,tempfail-once@far.test "retry-message"
e2e_wait 60 got_has "RCPT <tempfail-once@far.test>"
e2e_wait 30 dl_queue_empty
[ "$(got_count 'RCPT <ok@far.test>')" -eq 1 ] || e2e_fail "ok@far.test was delivered exactly once"
dl_log_has "\ttempfail-once@far.test\t127.0.0.1 \[127.0.0.1:$port\]\tdeferred\t451 4.7.1 try again later" ||
    e2e_fail "the 451 is in the delivery log: $(dl_delivery_log)"
dl_log_has "\ttempfail-once@far.test\t127.0.0.1 \[127.0.0.1:$port\]\tdelivered\t250" ||
    e2e_fail "the retry delivered it"

e2e_log "a 5xx: one DSN to the local sender with Status and Diagnostic-Code"
dl_send alice@example.com reject-me@far.test,fine@far.test "rejected-message"
e2e_wait 60 dl_drop_has "Final-Recipient: rfc822; reject-me@far.test"
e2e_wait 30 dl_queue_empty
dsn=$(grep -l -F "Final-Recipient: rfc822; reject-me@far.test" "$DL_MAIL"/Drop/*.eml)
grep -q '^Status: 5.1.1' "$dsn" || e2e_fail "Status: 5.1.1"
grep -q '^Diagnostic-Code: smtp; 550 5.1.1 no such user here' "$dsn" || e2e_fail "Diagnostic-Code: $(cat "$dsn")"
grep -q '^Remote-MTA: dns; 127.0.0.1' "$dsn" || e2e_fail "Remote-MTA"
grep -q -F 'fine@far.test' "$dsn" && e2e_fail "the DSN names only the failed recipient"
got_has "RCPT <fine@far.test>" || e2e_fail "the accepted recipient was delivered"

e2e_log "a connection dropped in DATA defers; the retry delivers"
sed 's/$/\r/' "$IMSRELAY_SOURCE_DIR/README.md" >"$E2E_DIR/readme-crlf.txt" # no bare LF
dl_send alice@example.com dropdata-once@far.test "dropped-message" "$E2E_DIR/readme-crlf.txt"
e2e_wait 60 got_has "RCPT <dropdata-once@far.test>"
e2e_wait 30 dl_queue_empty
dl_log_has '\tdropdata-once@far.test\t.*\tdeferred\t' || e2e_fail "the dropped attempt was deferred"

e2e_log "a message over the server's SIZE fails with 5.3.4 without being sent"
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$small_port"
head -n 100 "$E2E_DIR/readme-crlf.txt" >"$E2E_DIR/big.txt"
dl_send alice@example.com big@far.test "too-big-message" "$E2E_DIR/big.txt"
e2e_wait 60 dl_drop_has "Final-Recipient: rfc822; big@far.test"
# Every DSN about the recipient (one is expected) is read whole, and shown if it disagrees.
mapfile -t dsns < <(grep -l -F "Final-Recipient: rfc822; big@far.test" "$DL_MAIL"/Drop/*.eml)
[ "${#dsns[@]}" -eq 1 ] || e2e_fail "one DSN for big@far.test, found ${#dsns[@]}: ${dsns[*]}"
grep -q '^Status: 5.3.4' "${dsns[0]}" ||
    e2e_fail "SIZE: Status 5.3.4; the DSN says: $(tr -d '\r' <"${dsns[0]}" | grep -E '^(Action|Status|Diagnostic-Code):')"
got_has "RCPT <big@far.test>" && e2e_fail "the message over SIZE was not sent"

e2e_log "the DSN of a DSN goes to Badmail with its reason"
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$port"
dl_send reject-sender@far.test reject-rcpt@far.test "double-bounce"
badmail_has_reason() { ls "$DL_MAIL"/Badmail/*.reason >/dev/null 2>&1; }
e2e_wait 60 badmail_has_reason
e2e_wait 30 dl_queue_empty
reason=$(ls "$DL_MAIL"/Badmail/*.reason | head -1)
grep -q -F 'reject-sender@far.test' "$reason" || e2e_fail "the reason names the sender: $(cat "$reason")"
grep -q -F '550 5.1.1' "$reason" || e2e_fail "and the reply"
grep -q -F 'Final-Recipient: rfc822; reject-rcpt@far.test' "${reason%.reason}" || e2e_fail "the DSN itself is in Badmail"
e2e_events_wait 10 ':err:eventlog:.*C:\\\\mail\\\\Badmail'

dl_stop
e2e_pass
