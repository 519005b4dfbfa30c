#!/usr/bin/env bash
# Smart host delivery end to end: mail accepted by the installed service reaches Postfix's
# smtp-sink given as SmartHost [127.0.0.1]:PORT, with its envelope and body intact, and then
# leaves the queue; mail already queued when the service starts is delivered too; a queue
# file that cannot be parsed goes to Badmail with its reason and an event.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-smarthost
trap dl_cleanup EXIT
dl_install
sink_port=$(e2e_free_port)
dl_set SmartHost REG_SZ "[127.0.0.1]:$sink_port"
dl_sink_start "$sink_port"
dl_start
e2e_wait 20 dl_started_with 0

e2e_log "relayed mail reaches the smart host"
body="$E2E_DIR/body.txt"
printf 'line one\r\n.leading dot\r\n\r\nlast line\r\n' >"$body"
dl_send alice@example.com bob@far.test,carol@far.test "first-message" "$body"
e2e_wait 60 dl_sink_has "Subject: first-message"
e2e_wait 30 dl_queue_empty
f=$(grep -l -F "Subject: first-message" "$DL_SINK"/* | head -1)
grep -q -F 'X-Mail-Args: <alice@example.com>' "$f" || e2e_fail "the sender reached the sink"
grep -q -F 'X-Rcpt-Args: <bob@far.test>' "$f" || e2e_fail "bob reached the sink"
grep -q -F 'X-Rcpt-Args: <carol@far.test>' "$f" || e2e_fail "carol reached the sink"
grep -q -F '.leading dot' "$f" || e2e_fail "a line starting with a dot arrived whole"
grep -q -F 'by relay.example.com (imsrelay)' "$f" || e2e_fail "our Received header went along"
[ "$(grep -l -F 'Subject: first-message' "$DL_SINK"/* | wc -l)" -eq 1 ] ||
    e2e_fail "both recipients went in one transaction, once"
dl_delivery_log | grep -P '\tbob@far.test\t127.0.0.1 \[127.0.0.1:'"$sink_port"'\]\tdelivered\t250' >/dev/null ||
    e2e_fail "the delivery log has bob's attempt: $(dl_delivery_log)"
[ ! -e "$DL_MAIL/Queue" ] || [ -z "$(find "$DL_MAIL/Queue" -type f)" ] ||
    e2e_fail "nothing is left in Queue: $(find "$DL_MAIL/Queue" -type f)"
# New mail goes to the subfolders Queue\<XX>\ (two hex digits), never directly into Queue\.
[ -z "$(find "$DL_MAIL/Queue" -mindepth 1 -maxdepth 1 -type d ! -regex '.*/[0-9A-F][0-9A-F]')" ] ||
    e2e_fail "only Queue\\<XX> subfolders: $(ls "$DL_MAIL/Queue")"

e2e_log "several messages in a row, and local mail stays local"
for i in 1 2 3 4 5; do
    dl_send alice@example.com "dave$i@far.test" "batch-$i"
done
dl_send someone@far.test postmaster@example.com "local-only"
for i in 1 2 3 4 5; do
    e2e_wait 60 dl_sink_has "Subject: batch-$i"
done
e2e_wait 30 dl_queue_empty
dl_sink_has "Subject: local-only" && e2e_fail "local mail was not sent to the smart host"
[ "$(find "$DL_MAIL/Drop" -name '*.eml' | wc -l)" -eq 1 ] || e2e_fail "local mail is in Drop"

e2e_log "mail queued while the service was stopped is delivered at start; junk goes to Badmail"
dl_stop
printf 'X-Sender: <alice@example.com>\r\nX-Receiver: <erin@far.test>\r\nReceived: from x\r\nSubject: queued-before-start\r\n\r\nhello\r\n' \
    >"$DL_MAIL/Queue/0000000000000001.00000001.00000001.eml"
printf 'this is not a queue file\r\n' >"$DL_MAIL/Queue/0000000000000002.00000001.00000001.eml"
# Junk that has sat there a while: a file that does not parse and was written in the last
# minute is left alone for now (someone may still be writing it).
touch -d '2 minutes ago' "$DL_MAIL/Queue/0000000000000002.00000001.00000001.eml"
: >"$E2E_EVENTS.before"
cp "$E2E_EVENTS" "$E2E_EVENTS.before"
dl_start
e2e_wait 20 dl_started_with 1
e2e_wait 60 dl_sink_has "Subject: queued-before-start"
e2e_wait 30 dl_queue_empty
[ -f "$DL_MAIL/Badmail/0000000000000002.00000001.00000001.eml" ] || e2e_fail "the junk file is in Badmail"
[ -s "$DL_MAIL/Badmail/0000000000000002.00000001.00000001.eml.reason" ] || e2e_fail "with its reason beside it"
e2e_events_wait 10 ':err:eventlog:.*L"0000000000000002.00000001.00000001"'
e2e_events_wait 10 ':err:eventlog:.*C:\\\\mail\\\\Badmail'

dl_stop
e2e_pass
