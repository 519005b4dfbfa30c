#!/usr/bin/env bash
# Durability: imsrelay.exe (the Linux process of the service) is killed with SIGKILL in the
# middle of a delivery run to a slow smtp-sink; after the next start every message reaches
# the sink at least once, none is lost, and only those whose 250 was in flight at the kill
# (at most one per connection: MaxConnectionsPerDestination) arrive twice.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-kill
dl_test_cleanup() { kill "${SLOW_PID:-}" 2>/dev/null || true; }
trap dl_cleanup EXIT
dl_install
sink_port=$(e2e_free_port)
dl_set SmartHost REG_SZ "[127.0.0.1]:$sink_port" # nothing listens yet: everything queues
dl_set RetryIntervals REG_SZ '1s'
dl_set MaxConnectionsPerDestination REG_DWORD 4
dl_start

n=40
for i in $(seq 1 $n); do
    dl_send alice@example.com "r$i@far.test" "kill-$i"
done
e2e_wait 60 dl_log_has "\tr$n@far.test\t.*\tdeferred\t"
[ "$(dl_queue_count)" -eq "$n" ] || e2e_fail "all $n messages are queued"

# A sink that waits a second before each 354, so the run takes a while.
/usr/sbin/smtp-sink -u nobody -w 1 -d "$DL_SINK/%H%M%S." "127.0.0.1:$sink_port" 100 &
SLOW_PID=$!
e2e_wait 10 e2e_port_open "$sink_port"
sink_files() { find "$DL_SINK" -type f | wc -l; }
at_least() { [ "$(sink_files)" -ge "$1" ]; }
e2e_wait 60 at_least 5

pid=$("$DL_PY" - "$WINEPREFIX" <<'PY'
import os, sys
for d in os.listdir("/proc"):
    if not d.isdigit():
        continue
    try:
        cmd = open(f"/proc/{d}/cmdline", "rb").read()
        env = open(f"/proc/{d}/environ", "rb").read().split(b"\0")
    except OSError:
        continue
    if b"imsrelay.exe" in cmd and ("WINEPREFIX=" + sys.argv[1]).encode() in env:
        print(d)
        break
PY
)
[ -n "$pid" ] || e2e_fail "the service's process is found"
kill -9 "$pid"
before=$(sink_files)
e2e_log "killed the service after $before deliveries"
gone() { [ ! -e "/proc/$pid" ]; }
e2e_wait 20 gone
# Wine's services.exe goes on reporting RUNNING for a killed service; `net start` starts it
# again all the same, as the SCM would after a crash.
[ "$before" -lt "$n" ] || e2e_fail "the kill came in the middle of the run ($before of $n)"

dl_start
e2e_wait 180 dl_queue_empty
total=$(sink_files)
missing=0
dupes=0
for i in $(seq 1 $n); do
    c2=$(grep -l -F -- "Subject: kill-$i" "$DL_SINK"/* 2>/dev/null | xargs -r grep -l -F -- "X-Rcpt-Args: <r$i@far.test>" | wc -l)
    [ "$c2" -ge 1 ] || missing=$((missing + 1))
    [ "$c2" -le 1 ] || dupes=$((dupes + c2 - 1))
done
e2e_log "after the restart: $total deliveries, $missing missing, $dupes duplicates"
[ "$missing" -eq 0 ] || e2e_fail "$missing messages were lost"
[ "$dupes" -le 4 ] || e2e_fail "$dupes duplicates: more than the 250s in flight at the kill (4 connections)"
dl_stop
e2e_pass
