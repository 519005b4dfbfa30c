#!/usr/bin/env bash
# A service that starts with a large queue answers at once: the queue is read by the queue
# manager's own thread, so mail is accepted while it reads and `net stop` is not held up by
# it (Wine reads a folder of thousands slowly: 6,000 files directly in Queue\, as an older
# version left them, took 75 s on this machine). The read that a stop cut short loses
# nothing: every message is still on disk, none in Badmail, and the next start reads them.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
MESSAGES=3000
e2e_begin delivery-queue-load
trap dl_cleanup EXIT
dl_install
dl_set SmartHost REG_SZ '[127.0.0.1]:1'
dl_set RetryIntervals REG_SZ '1h'
mkdir -p "$DL_MAIL/Queue"
python3 - "$DL_MAIL/Queue" "$MESSAGES" <<'PY'
import os, sys
folder, count = sys.argv[1], int(sys.argv[2])
for i in range(count):
    name = "0000000000000002.%08X.%08X.eml" % (i // 1000 + 1, i + 1)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(b"X-Sender: <alice@example.com>\r\nX-Receiver: <r%d@far.test>\r\n"
                b"Received: from x\r\nSubject: load-%d\r\n\r\nhello\r\n" % (i, i))
PY
emls() { find "$DL_MAIL/Queue" -name '*.eml' | wc -l; }

dl_start
e2e_log "mail is accepted while the queue is read"
dl_send alice@example.com bob@example.com "during-the-load"
e2e_wait 30 dl_drop_has "Subject: during-the-load"
loaded=$(grep -c -F 'C:\\mail\\Queue' "$E2E_EVENTS" || true)

e2e_log "net stop while the queue is read"
start=$SECONDS
e2e_net_stop 60
took=$((SECONDS - start))
e2e_log "stopped in ${took}s (the queue's started event had $([ "$loaded" -gt 0 ] || echo "not ")been written)"
[ "$took" -le 20 ] || e2e_fail "the stop took ${took}s: it waited for the queue to be read"
[ "$(emls)" -eq "$MESSAGES" ] || e2e_fail "$(emls) messages in Queue, $MESSAGES before the start"
[ -z "$(ls "$DL_MAIL/Badmail" 2>/dev/null)" ] || e2e_fail "Badmail: $(ls "$DL_MAIL/Badmail" | head -3)"

e2e_log "the next start reads the whole queue"
start=$SECONDS
dl_start
e2e_wait 300 dl_started_with "$MESSAGES"
e2e_log "read $MESSAGES messages in $((SECONDS - start))s"
e2e_pass
