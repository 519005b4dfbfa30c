#!/usr/bin/env bash
# A queue of thousands (issue 10): 3,000 messages accepted while the smart host
# ([127.0.0.1]:1) refuses every connection, so nothing drains. Each lands in a subfolder
# Queue\<XX>\ (at most 256 of them, none crowded), none directly in Queue\; the running queue
# manager picks up every one (its journal beside it, one deferred attempt in the delivery
# log) and `imsrelay queue` lists every one. Files in the flat layout of older versions,
# dropped directly into Queue\ while the service runs, are picked up, listed, shown and
# deleted too; after a restart the started event counts them all.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
SMTP_SOURCE=/usr/sbin/smtp-source
[ -x "$SMTP_SOURCE" ] || e2e_fail "no $SMTP_SOURCE (Debian's postfix package; build/setup.sh installs it)"
MESSAGES=3000
e2e_begin delivery-queue-scale
trap dl_cleanup EXIT
dl_install
dl_set SmartHost REG_SZ '[127.0.0.1]:1'
dl_set RetryIntervals REG_SZ '1h' # one attempt each, then they wait
dl_start

q() { { e2e_wine "$E2E_EXE" queue "$@" 2>&1 || true; } | tr -d '\r'; }
ids_on_disk() { find "$DL_MAIL/Queue" -name '*.eml' -printf '%f\n' | sed 's/\.eml$//' | sort; }
journals() { find "$DL_MAIL/Queue" -name '*.state' | wc -l; }
deferred_ids() { dl_delivery_log | awk -F'\t' '$5 == "deferred" { print $2 }' | sort -u; }
every_one_deferred() { [ "$(deferred_ids | wc -l)" -ge "$1" ]; }
journals_at_least() { [ "$(journals)" -ge "$1" ]; }

e2e_log "smtp-source: $MESSAGES messages in 20 sessions"
err="$E2E_DIR/smtp-source.err"
rc=0
timeout 600 "$SMTP_SOURCE" -s 20 -m "$MESSAGES" -l 512 -f sender@client.test -t rcpt@far.test \
    -M client.test "127.0.0.1:$DL_PORT" 2>"$err" || rc=$?
[ $rc -eq 0 ] || e2e_fail "smtp-source exited $rc: $(head -c 400 "$err")"
[ ! -s "$err" ] || e2e_fail "smtp-source complained: $(head -c 400 "$err")"
[ "$(dl_queue_count)" -eq "$MESSAGES" ] || e2e_fail "$(dl_queue_count) files in Queue, $MESSAGES accepted"

e2e_log "layout: subfolders only"
flat=$(find "$DL_MAIL/Queue" -mindepth 1 -maxdepth 1 -type f | wc -l)
[ "$flat" -eq 0 ] || e2e_fail "$flat files directly in Queue\\"
subs=$(find "$DL_MAIL/Queue" -mindepth 1 -maxdepth 1 -type d | wc -l)
odd=$(find "$DL_MAIL/Queue" -mindepth 1 -maxdepth 1 -type d ! -regex '.*/[0-9A-F][0-9A-F]' | wc -l)
[ "$odd" -eq 0 ] && [ "$subs" -le 256 ] || e2e_fail "$subs subfolders, $odd not named XX"
crowded=$(for d in "$DL_MAIL"/Queue/*/; do find "$d" -name '*.eml' | wc -l; done | sort -n | tail -1)
# 3,000 over 256 folders: about 12 each; a hash that bunched them up would show here.
[ "$crowded" -lt 50 ] || e2e_fail "one subfolder holds $crowded messages"
e2e_log "$subs subfolders, at most $crowded messages in one"

e2e_log "the queue manager picks up every message"
e2e_wait 300 journals_at_least "$MESSAGES"
e2e_wait 300 every_one_deferred "$MESSAGES"
[ "$(deferred_ids | comm -3 - <(ids_on_disk) | wc -l)" -eq 0 ] ||
    e2e_fail "the delivery log's deferred ids are not the queued ones"

e2e_log "imsrelay queue lists every message"
q >"$E2E_DIR/list.txt"
grep -q -x "$MESSAGES messages queued" "$E2E_DIR/list.txt" ||
    e2e_fail "the listing's total: $(tail -1 "$E2E_DIR/list.txt")"
listed() { awk '/ pending /{ print $1 }' "$E2E_DIR/list.txt" | sort; }
[ "$(listed | comm -3 - <(ids_on_disk) | wc -l)" -eq 0 ] ||
    e2e_fail "the listing and the files differ: $(listed | comm -3 - <(ids_on_disk) | head -5)"

e2e_log "files of the flat layout, dropped into Queue\\ while the service runs"
for i in 1 2 3; do
    printf 'X-Sender: <alice@example.com>\r\nX-Receiver: <flat%s@far.test>\r\nReceived: from x\r\nSubject: flat-%s\r\n\r\nhello\r\n' \
        "$i" "$i" >"$DL_MAIL/Queue/0000000000000001.00000001.0000000$i.eml"
done
e2e_wait 60 every_one_deferred $((MESSAGES + 3))
[ -f "$DL_MAIL/Queue/0000000000000001.00000001.00000001.state" ] ||
    e2e_fail "a flat file's journal is beside it"
q >"$E2E_DIR/list2.txt"
grep -q -x "$((MESSAGES + 3)) messages queued" "$E2E_DIR/list2.txt" ||
    e2e_fail "the listing's total with the flat files: $(tail -1 "$E2E_DIR/list2.txt")"
q show 0000000000000001.00000001.00000002 | grep -q 'flat2@far.test' ||
    e2e_fail "queue show finds a flat file"
hashed_id=$(ids_on_disk | grep -v '^0000000000000001\.' | awk 'NR == 1')
q show "$hashed_id" | grep -q 'rcpt@far.test' || e2e_fail "queue show finds $hashed_id in its subfolder"
q delete 0000000000000001.00000001.00000003 | grep -q '^deleted' || e2e_fail "queue delete of a flat file"
q delete "$hashed_id" | grep -q '^deleted' || e2e_fail "queue delete of $hashed_id"
[ -z "$(find "$DL_MAIL/Queue" -name "$hashed_id.*" -o -name '0000000000000001.00000001.00000003.*')" ] ||
    e2e_fail "deleted messages left files"

e2e_log "restart: the started event counts the whole queue"
dl_stop
dl_start
e2e_wait 60 dl_started_with $((MESSAGES + 1))
e2e_pass
