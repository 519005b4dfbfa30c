#!/usr/bin/env bash
# MX delivery end to end, DNS from dnsmasq (DnsServers): mail for a domain goes to its MX on
# port 25 (DeliveryPort), a domain without MX to its own address (RFC 5321 5.1); a null MX
# (RFC 7505), an MX that is this server and a domain that does not exist fail at once with
# 5.1.10, 5.4.6 and 5.1.2 in one DSN to the (local) sender, in Drop; a DSN to a remote
# sender is queued and delivered by MX with the null sender; a DNS server that does not
# answer defers (4.4.3), never bounces, and the mail goes once DNS is back.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-mx
dl_test_cleanup() { dl_dns_stop; }
trap dl_cleanup EXIT
dl_install
dns=$(dl_loopback 53)
mx=$(dl_loopback 54)
dl_dns_start "$dns" --mx-host=example.test,mx.example.test,10 --host-record=mx.example.test,"$mx" \
    --host-record=implicit.test,"$mx" --mx-host=nullmx.test,.,0 \
    --mx-host=loop.test,relay.example.com,5 --host-record=relay.example.com,"$mx"
dl_sink_start_at "$mx:25"
dl_set DnsServers REG_MULTI_SZ "$dns"
dl_set RetryIntervals REG_SZ '2s'
dl_start
e2e_wait 20 dl_started_with 0

e2e_log "an MX, and a domain with no MX but an address"
dl_send alice@example.com bob@example.test,carol@implicit.test "mx-message"
e2e_wait 60 dl_sink_has "Subject: mx-message" 2
grep -l -F 'Subject: mx-message' "$DL_SINK"/* | xargs grep -h 'X-Rcpt-Args' | sort >"$E2E_DIR/rcpts"
grep -q -F '<bob@example.test>' "$E2E_DIR/rcpts" || e2e_fail "bob reached the MX"
grep -q -F '<carol@implicit.test>' "$E2E_DIR/rcpts" || e2e_fail "carol reached implicit.test's address"
e2e_wait 30 dl_queue_empty
dl_log_has "\tbob@example.test\tmx.example.test \[$mx:25\]\tdelivered\t250" || e2e_fail "log: $(dl_delivery_log)"
dl_log_has "\tcarol@implicit.test\timplicit.test \[$mx:25\]\tdelivered\t250" || e2e_fail "log: $(dl_delivery_log)"

e2e_log "null MX, mail loop, no such domain: one DSN to the local sender, in Drop"
dl_send alice@example.com x@nullmx.test,y@loop.test,z@missing.test "doomed-message"
e2e_wait 60 dl_drop_has "Final-Recipient: rfc822; z@missing.test"
e2e_wait 30 dl_queue_empty
dsn=$(grep -l -F "Final-Recipient: rfc822; z@missing.test" "$DL_MAIL"/Drop/*.eml)
[ "$(echo "$dsn" | wc -l)" -eq 1 ] || e2e_fail "one DSN for the message"
head -2 "$dsn" | grep -q -F 'X-Sender: <>' || e2e_fail "the DSN has the null sender"
grep -q -F 'X-Receiver: <alice@example.com>' "$dsn" || e2e_fail "the DSN goes to the sender"
grep -q -F 'From: Mail Delivery System <MAILER-DAEMON@relay.example.com>' "$dsn" || e2e_fail "from MAILER-DAEMON"
grep -A3 -F 'Final-Recipient: rfc822; x@nullmx.test' "$dsn" | grep -q 'Status: 5.1.10' ||
    e2e_fail "null MX: 5.1.10"
grep -A3 -F 'Final-Recipient: rfc822; y@loop.test' "$dsn" | grep -q 'Status: 5.4.6' ||
    e2e_fail "an MX that is this server: 5.4.6"
grep -A3 -F 'Final-Recipient: rfc822; z@missing.test' "$dsn" | grep -q 'Status: 5.1.2' ||
    e2e_fail "no such domain: 5.1.2"
grep -q -F 'Subject: doomed-message' "$dsn" || e2e_fail "the DSN returns the original"
e2e_events_wait 10 ':err:eventlog:.*L"z@missing.test"'

e2e_log "a DSN to a remote sender goes out by MX with the null sender"
dl_send bounce-me@example.test nobody@missing.test "remote-sender-message"
e2e_wait 60 dl_sink_has "Final-Recipient: rfc822; nobody@missing.test"
f=$(grep -l -F "Final-Recipient: rfc822; nobody@missing.test" "$DL_SINK"/*)
grep -q -F 'X-Mail-Args: <>' "$f" || e2e_fail "the DSN was sent with MAIL FROM:<>"
grep -q -F 'X-Rcpt-Args: <bounce-me@example.test>' "$f" || e2e_fail "to the sender"
e2e_wait 30 dl_queue_empty

e2e_log "a DNS server that does not answer defers; the mail goes once DNS answers again"
dead=$(dl_loopback 55)
dl_set_live DnsServers REG_MULTI_SZ "$dead"
dl_send alice@example.com dora@example.test "dns-down-message"
e2e_wait 120 dl_log_has '\tdora@example.test\t-\tdeferred\t4\.4\.3 '
[ "$(dl_queue_count)" -eq 1 ] || e2e_fail "the message stays queued"
dl_drop_has "Final-Recipient: rfc822; dora@example.test" && e2e_fail "no DSN for a DNS fault"
dl_set_live DnsServers REG_MULTI_SZ "$dns"
e2e_wait 120 dl_sink_has "Subject: dns-down-message"
e2e_wait 30 dl_queue_empty

dl_stop
e2e_pass
