#!/usr/bin/env bash
# LogMaxAgeDays as an administrator meets it: daily log files older than the limit are
# deleted when the service opens a day's file, those within it stay, and nothing in Logs that
# is not one of the service's own daily files is touched, whatever its name says.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-log-age
trap dl_cleanup EXIT
dl_install
dl_set SmartHost REG_SZ '[127.0.0.1]:1' # nothing listens: one deferred line in the delivery log
dl_set LogMaxAgeDays REG_DWORD 10

logs="$DL_MAIL/Logs"
mkdir -p "$logs"
day() { date -u -d "$1" +%Y%m%d; }
old=$(day '11 days ago') kept=$(day '10 days ago') recent=$(day yesterday)
for f in "smtp-$old.log" "delivery-$old.log" "smtp-$kept.log" "delivery-$kept.log" \
    "smtp-$recent.log" "smtp-$old.log.bak" "notes-$old.log" "smtp-$old.txt" "readme.txt"; do
    echo "kept by the administrator" >"$logs/$f"
done
mkdir "$logs/smtp-$old.log.d"

dl_start
dl_send alice@example.com one@far.test "log-age"
e2e_wait 60 dl_log_has '\tone@far.test\t.*\tdeferred\t'
e2e_wait 30 test -f "$logs/smtp-$(day today).log"
e2e_wait 30 test ! -e "$logs/smtp-$old.log"
e2e_wait 30 test ! -e "$logs/delivery-$old.log"
for f in "smtp-$kept.log" "delivery-$kept.log" "smtp-$recent.log" "smtp-$old.log.bak" \
    "notes-$old.log" "smtp-$old.txt" "readme.txt" "smtp-$old.log.d"; do
    [ -e "$logs/$f" ] || e2e_fail "$f was deleted: $(ls "$logs")"
done
e2e_log "deleted: smtp-$old.log delivery-$old.log; kept: $(ls "$logs" | tr '\n' ' ')"

dl_stop
e2e_pass
